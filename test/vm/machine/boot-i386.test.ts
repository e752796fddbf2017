// E2E: Debian's 686 kernel boots through the 32-bit entry to the busybox report /init and
// powers off through ACPI.
import { describe, expect, it } from 'vitest';
import { BOOT_TIMEOUT_MS, bootReport, explain } from './boot-helpers.js';

describe('booting the Debian 686 kernel', () => {
  it('reaches the marker with 1 CPU, 256 MiB, the host date, and powers off via ACPI', async () => {
    const r = await bootReport({ kernel: 'KERNEL_686', initrd: 'INITRAMFS_REPORT_I386' });
    expect(r.console, explain(r)).toContain('TSVIRT-BOOT-MARKER');
    expect(r.console).toMatch(/Linux \S+ 6\.\d+\.\d+-\d+-686 .* i686/);
    expect(r.cpus).toBe(1);
    expect(r.memTotalKiB).toBeGreaterThan(200 * 1024);
    expect(Math.abs(r.guestSeconds! - r.hostSecondsAtDate!)).toBeLessThan(120);
    expect(r.console).toMatch(/reboot: Power down/);
    expect(r.result.kind, explain(r)).toBe('poweroff');
  }, BOOT_TIMEOUT_MS);
});
