// What `tsvirt-install` does once its options are planned (src/domain/plan.ts): pick the
// run the install method asks for and drive it.
//  --location      the kickstart install (run-install.ts), then boot from disk
//  --boot kernel=  direct kernel boot of the given kernel/initrd/kernel_args
//  --import        boot an existing installed disk (its extlinux.conf / BLS entry)
//  --cdrom, --pxe  not supported by the VM core yet: refused before anything is created
// The final definition is saved in the state store unless --transient (as virt-install
// defines the domain); --noautoconsole hands the guest to a detached runner (src/
// lifecycle) and waits as --wait says, else the guest runs on this terminal.
import { TsvirtError } from '../lib/errors.js';
import type { Domain } from '../domain/model.js';
import type { InstallPlan as FrontEndPlan } from '../domain/plan.js';
import {
  DefinitionStore, checkRunnable, defineAndStart, guestDisks, guestNics, guestSpecFor, waitForShutdown, type LifecyclePaths,
} from '../lifecycle/index.js';
import { checkKvmUsable } from '../vm/accel/kvm/kvm-vm.js';
import { machineResultError } from '../vm/machine/machine-result.js';
import type { ConsoleIo, MachineResult } from '../vm/machine/index.js';
import type { Fetcher } from './fetch/index.js';
import { checkEmulatable, runOnVmCore, type GuestRunner, type GuestSpec } from './guest-machine.js';
import { runInstall, type InstallDisk, type InstallOutcome } from './run-install.js';

export interface RunDomainDeps {
  fetcher: Fetcher;
  console: Omit<ConsoleIo, 'signal'>;
  signal?: AbortSignal;
  progress?: (line: string) => void;
  runGuest?: GuestRunner;
  /** Where definitions and runners live (src/lifecycle); needed to save or detach. */
  lifecycle?: LifecyclePaths;
}

export type RunDomainOutcome =
  | { kind: 'install'; outcome: InstallOutcome; detached?: Detached }
  | { kind: 'boot'; result: MachineResult }
  | { kind: 'detached'; detached: Detached };

/** --noautoconsole: the guest runs on in its runner; --wait said how long we waited. */
export interface Detached {
  pid: number;
  stoppedWithinWait: boolean;
}

const GIB = 1024 ** 3;

/**
 * Throws the TsvirtError the real run would stop with before it fetches or creates
 * anything: the install method, what the VM core cannot run, a kvm domain without a
 * usable /dev/kvm. `--dry-run` calls it too, so it fails where the run would.
 */
export function checkRunPossible(plan: FrontEndPlan): void {
  const { specs, finalPhase: domain } = plan;
  const method = plan.dryRunPlan.media.method;
  if (method === 'cdrom') throw new TsvirtError('--cdrom installs are not supported by the VM core yet', 'use --location with the ISO (tsvirt reads install trees from ISO images)');
  if (method === 'pxe') throw new TsvirtError('--pxe installs are not supported by the VM core yet', 'use --location');
  if (method === 'location' && specs.transient) {
    // Nothing is saved, but the install itself runs these disks and NICs.
    checkEmulatable({ disks: guestDisks(domain), nics: guestNics(domain) });
  } else {
    checkRunnable(domain);
  }
  if (domain.type === 'kvm') checkKvmUsable({ vcpus: domain.vcpusCurrent });
}

export async function runDomain(plan: FrontEndPlan, deps: RunDomainDeps): Promise<RunDomainOutcome> {
  const { specs, finalPhase: domain } = plan;
  const method = plan.dryRunPlan.media.method;
  const runGuest = deps.runGuest ?? runOnVmCore;
  checkRunPossible(plan);
  switch (method) {
    case 'location': {
      if (!specs.location) throw new Error('location install without a location');
      const detach = specs.noautoconsole && !specs.noreboot;
      const toCreate = new Map(plan.dryRunPlan.disksToCreate.map((d) => [d.path, d]));
      const disks: InstallDisk[] = guestDisks(domain).map((g) => {
        const c = toCreate.get(g.path);
        return {
          ...g,
          format: g.format ?? c?.format ?? 'raw',
          create: c !== undefined,
          sizeBytes: c ? Math.round(c.sizeGiB * GIB) : undefined,
          sparse: c?.sparse,
          backingStore: c?.backingStore,
          backingFormat: c?.backingFormat,
        };
      });
      const outcome = await runInstall(
        {
          name: domain.name,
          memoryMiB: domain.currentMemoryKiB / 1024,
          vcpus: domain.vcpusCurrent,
          disks,
          nics: guestNics(domain),
          rng: domain.devices.rng.length > 0,
          location: { location: specs.location.location, kernel: specs.location.kernel, initrd: specs.location.initrd },
          extraArgs: specs.extraArgs.join(' '),
          initrdInject: specs.initrdInject,
          noreboot: specs.noreboot || detach,
          force: specs.force,
          accelerator: domain.type === 'kvm' ? 'kvm' : 'ts',
        },
        { fetcher: deps.fetcher, console: deps.console, signal: deps.signal, progress: deps.progress, runGuest },
      );
      if (!specs.transient && !detach) saveDefinition(domain, deps);
      if (outcome.bootResult) {
        const err = machineResultError(outcome.bootResult, { name: domain.name, waitMinutes: specs.waitMinutes });
        if (err) throw err;
      }
      const detached = detach ? await startDetached(domain, specs.waitMinutes, deps) : undefined;
      return { kind: 'install', outcome, detached };
    }
    case 'boot':
    case 'import': {
      const spec = guestSpecFor(domain);
      if (specs.noautoconsole) return { kind: 'detached', detached: await startDetached(domain, specs.waitMinutes, deps) };
      if (!specs.transient) saveDefinition(domain, deps);
      deps.progress?.(`booting ${spec.bootSource}`);
      return { kind: 'boot', result: await runChecked(runGuest, spec, domain, deps, specs.waitMinutes) };
    }
    case 'cdrom':
    case 'pxe':
      throw new Error(`checkRunPossible let a ${method} install through`);
  }
}

function lifecyclePathsOf(deps: RunDomainDeps): LifecyclePaths {
  if (!deps.lifecycle) throw new Error('saving or detaching a domain needs lifecycle paths');
  return deps.lifecycle;
}

/** The final definition goes to the state store (virt-install defines the domain). */
function saveDefinition(domain: Domain, deps: RunDomainDeps): void {
  const { path } = new DefinitionStore(lifecyclePathsOf(deps).domainsDir).save(domain);
  deps.progress?.(`domain ${domain.name} defined (${path})`);
}

/** --noautoconsole: start the guest in its own runner and wait as --wait says (default: not at all). */
async function startDetached(domain: Domain, waitMinutes: number | undefined, deps: RunDomainDeps): Promise<Detached> {
  const paths = lifecyclePathsOf(deps);
  const { pid } = await defineAndStart(paths, domain);
  deps.progress?.(`domain ${domain.name} started in runner ${pid}; 'tsvirt console ${domain.name}' attaches`);
  const wait = waitMinutes ?? 0;
  const stoppedWithinWait = await waitForShutdown(paths, domain.name, wait);
  if (wait !== 0 && !stoppedWithinWait) deps.progress?.(`domain ${domain.name} is still running after ${wait} minute(s) (--wait); leaving it running`);
  return { pid, stoppedWithinWait };
}

async function runChecked(runGuest: GuestRunner, spec: GuestSpec, domain: Domain, deps: RunDomainDeps, waitMinutes?: number): Promise<MachineResult> {
  const stop = new AbortController();
  deps.signal?.addEventListener('abort', () => stop.abort(), { once: true });
  // virt-install --wait N: give up after N minutes (negative: forever, 0: not at all).
  const timer = waitMinutes !== undefined && waitMinutes > 0 ? setTimeout(() => stop.abort(), waitMinutes * 60_000) : undefined;
  try {
    const result = await runGuest(spec, { ...deps.console, signal: stop.signal });
    const timedOut = timer !== undefined && stop.signal.aborted && !deps.signal?.aborted;
    const err = machineResultError(timedOut ? { ...result, kind: 'timeout' } : result, { name: domain.name, waitMinutes });
    if (err) throw err;
    return result;
  } finally {
    if (timer) clearTimeout(timer);
  }
}
