// What --dry-run checks beyond the option plan (issue 4 item 4): what the real run would
// refuse before it starts (run-domain.ts checkRunPossible), then the kickstart is fetched
// and validated (an invalid one fails the dry run with its errors), and a local directory
// tree is resolved. Nothing is written: remote trees and ISO images, which resolving would
// download or extract into the cache, are only named.
import { statSync } from 'node:fs';
import type { InstallPlan as FrontEndPlan } from '../domain/plan.js';
import type { Fetcher } from './fetch/index.js';
import { prepareKickstart } from './kickstart/index.js';
import { resolveLocation } from './location/index.js';
import { checkRunPossible } from './run-domain.js';

export async function checkDryRunMedia(plan: FrontEndPlan, fetcher: Fetcher): Promise<string[]> {
  // A dry run fails where the real run would, before it looks at the media.
  checkRunPossible(plan);
  const lines: string[] = [];
  const { specs } = plan;
  const ks = await prepareKickstart({ extraArgs: specs.extraArgs.join(' '), injectPaths: specs.initrdInject }, fetcher);
  if (ks) {
    const warnings = ks.problems.length;
    lines.push(`Kickstart ${ks.source} is valid${warnings ? ` (${warnings} warning${warnings === 1 ? '' : 's'})` : ''}`);
  }
  const loc = specs.location;
  if (loc && !loc.isUrl && statSync(loc.location, { throwIfNoEntry: false })?.isDirectory()) {
    const tree = await resolveLocation({ location: loc.location, kernel: loc.kernel, initrd: loc.initrd }, fetcher);
    lines.push(`Install tree ${loc.location}: ${tree.distroName}${tree.version ? ` ${tree.version}` : ''} (${tree.family}), kernel ${tree.kernel}, initrd ${tree.initrd}`);
  }
  return lines;
}
