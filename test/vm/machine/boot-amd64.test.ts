// E2E: Debian's cloud amd64 kernel boots on tsvirt's software CPU to the busybox report
// /init, with ACPI on, and powers off through ACPI S5.
import { describe, expect, it } from 'vitest';
import { BOOT_TIMEOUT_MS, bootReport, explain } from './boot-helpers.js';

describe('booting the Debian cloud amd64 kernel', () => {
  it('reaches the marker with 1 CPU, 256 MiB, the host date, and powers off via ACPI', async () => {
    const r = await bootReport({ kernel: 'KERNEL_CLOUD_AMD64', initrd: 'INITRAMFS_REPORT_AMD64' });
    expect(r.console, explain(r)).toContain('TSVIRT-BOOT-MARKER');
    expect(r.console).toMatch(/Linux \S+ 6\.\d+\.\d+-\d+-cloud-amd64 .* x86_64/);
    expect(r.console).toMatch(/ACPI: Using IOAPIC for interrupt routing/);
    expect(r.console).not.toMatch(/acpi=off/);
    expect(r.cpus).toBe(1);
    expect(r.memTotalKiB).toBeGreaterThan(200 * 1024);
    expect(r.memTotalKiB).toBeLessThanOrEqual(256 * 1024);
    expect(Math.abs(r.guestSeconds! - r.hostSecondsAtDate!)).toBeLessThan(120);
    expect(r.console).toMatch(/ttyS0/);
    expect(r.console).toMatch(/reboot: Power down/);
    expect(r.result.kind, explain(r)).toBe('poweroff');
  }, BOOT_TIMEOUT_MS);

  it('brings up a second vCPU through INIT/SIPI with --vcpus 2', async () => {
    const r = await bootReport({ kernel: 'KERNEL_CLOUD_AMD64', initrd: 'INITRAMFS_REPORT_AMD64', vcpus: 2 });
    expect(r.console, explain(r)).toContain('TSVIRT-BOOT-MARKER');
    expect(r.console).toMatch(/smp: Brought up 1 node, 2 CPUs/);
    expect(r.cpus).toBe(2);
    expect(r.result.kind, explain(r)).toBe('poweroff');
  }, BOOT_TIMEOUT_MS);
});
