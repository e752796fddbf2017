import { describe, expect, it } from 'vitest';
import { machineResultError } from '../../../src/vm/machine/machine-result.js';
import { describeError } from '../../../src/lib/errors.js';

describe('machineResultError', () => {
  it('treats power-off as success and every other end as one clear error with the console tail', () => {
    expect(machineResultError({ kind: 'poweroff', lastConsoleLines: [] })).toBeUndefined();
    const lines = Array.from({ length: 15 }, (_, i) => `line ${i}`);
    const crash = machineResultError({ kind: 'crash', lastConsoleLines: lines, message: 'vCPU 0 triple-faulted', registers: 'RIP=0x0' }, { name: 't' })!;
    expect(describeError(crash)).toMatch(/^guest 't' crashed: vCPU 0 triple-faulted\nRIP=0x0; last console lines:\nline 5\n[\s\S]*line 14$/);
    const timeout = machineResultError({ kind: 'timeout', lastConsoleLines: [] }, { waitMinutes: 3 })!;
    expect(describeError(timeout)).toBe('the guest did not power off within 3 minute(s) (--wait); the guest printed nothing on its serial console');
    expect(machineResultError({ kind: 'reset', lastConsoleLines: ['x'] })!.message).toMatch(/rebooted/);
  });
});
