// How a guest's end reads to the user (issue 6 "Direct kernel boot from the CLI"): a
// power-off is success; a crash, a triple fault, a reboot the config does not follow, a
// timeout (--wait) or a stop is an error whose message says what happened and whose hint
// carries the last console lines, so the CLI prints one clear ERROR line and exits 1.

import { TsvirtError } from '../../lib/errors.js';
import type { MachineResult } from './machine-config.js';

export function machineResultError(r: MachineResult, opts: { name?: string; waitMinutes?: number } = {}): TsvirtError | undefined {
  const who = opts.name ? `guest '${opts.name}'` : 'the guest';
  const tail = r.lastConsoleLines.slice(-10);
  const hint = tail.length ? `last console lines:\n${tail.join('\n')}` : 'the guest printed nothing on its serial console';
  switch (r.kind) {
    case 'poweroff':
      return undefined;
    case 'crash':
      return new TsvirtError(`${who} crashed: ${r.message ?? 'unknown CPU error'}${r.registers ? `\n${r.registers}` : ''}`, hint);
    case 'reset':
      return new TsvirtError(`${who} rebooted instead of powering off`, hint);
    case 'timeout':
      return new TsvirtError(
        `${who} did not power off within ${opts.waitMinutes !== undefined ? `${opts.waitMinutes} minute(s) (--wait)` : 'the time allowed'}`,
        hint,
      );
    case 'stopped':
      return new TsvirtError(`${who} was stopped before it powered off`, hint);
  }
}
