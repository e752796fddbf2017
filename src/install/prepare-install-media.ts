// One call for tsvirt-install's media step (ARCHITECTURE.md "Data flow of an install",
// steps 3-4): validate the kickstart (inst.ks= URL or an injected file) and derive the
// install plan before anything is fetched or created, then resolve --location to a
// kernel and initrd, and append --initrd-inject files plus the plan (as
// tsvirt/install-plan.json) to the initrd. With dryRun everything is checked and
// fetched into the cache, but no new initrd is written.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TsvirtError } from '../lib/errors.js';
import type { Fetcher } from './fetch/fetcher.js';
import { injectFiles, type InjectSource } from './inject.js';
import { prepareKickstart, type PreparedKickstart } from './kickstart/prepare.js';
import type { LocationSpec } from './location/location-spec.js';
import { resolveLocation } from './location/resolve-location.js';
import type { Tree } from './location/tree.js';
import { buildInstallPlan, type PlanDisk, type PlanOptions } from './plan/build-install-plan.js';
import type { InstallPlan } from './plan/install-plan.js';

/** Where the plan lands in the initrd; tsvirt's installer reads it from there. */
export const INSTALL_PLAN_INITRD_PATH = 'tsvirt/install-plan.json';

export interface InstallMediaRequest {
  readonly location: string | LocationSpec;
  readonly extraArgs?: string;
  readonly injectPaths?: readonly string[];
  /** The disks the Domain will create, for the plan. */
  readonly disks: readonly PlanDisk[];
  readonly plan?: PlanOptions;
  /** Directory for the injected initrd (the caller owns and removes it). */
  readonly outputDir?: string;
  readonly dryRun?: boolean;
}

export interface InstallMedia {
  readonly tree: Tree;
  readonly kernel: string;
  /** The initrd to boot: the injected copy, or the tree's own when nothing was added or on a dry run. */
  readonly initrd: string;
  /** --extra-args first, then what the distro needs (virt-install's order). */
  readonly kernelArgs: readonly string[];
  readonly kickstart?: PreparedKickstart;
  readonly plan?: InstallPlan;
  /** Names added at the initrd root (also listed on a dry run). */
  readonly injected: readonly string[];
}

export async function prepareInstallMedia(req: InstallMediaRequest, fetcher: Fetcher): Promise<InstallMedia> {
  const kickstart = await prepareKickstart({ extraArgs: req.extraArgs, injectPaths: req.injectPaths }, fetcher);
  const plan = kickstart ? buildInstallPlan(kickstart.kickstart, req.disks, req.plan) : undefined;
  const tree = await resolveLocation(req.location, fetcher);
  const files: InjectSource[] = [...(req.injectPaths ?? [])];
  if (plan) files.push({ name: INSTALL_PLAN_INITRD_PATH, data: Buffer.from(`${JSON.stringify(plan, null, 2)}\n`) });
  const injected = files.map((f) => (typeof f === 'string' ? f.split('/').pop()! : 'data' in f ? f.name : (f.name ?? f.path.split('/').pop()!)));
  let initrd = tree.initrd;
  if (files.length > 0 && !req.dryRun) {
    if (!req.outputDir) throw new TsvirtError('internal: prepareInstallMedia needs an outputDir to write the injected initrd');
    initrd = join(req.outputDir, 'initrd-injected.img');
    await writeFile(initrd, await injectFiles(tree.initrd, files));
  }
  const kernelArgs = [...(req.extraArgs ? [req.extraArgs] : []), ...tree.kernelArgs];
  return { tree, kernel: tree.kernel, initrd, kernelArgs, kickstart, plan, injected };
}
