// tsvirt-install --virt-type kvm (issue 9) through the built binary: the guest (the
// 64-bit PC guest of test/vm/machine/pc-guest.ts, booted with --boot kernel=) runs on
// /dev/kvm with its console on stdout and powers off; --vcpus 2 runs the SMP guest with
// its AP started by the in-kernel LAPIC; an unusable /dev/kvm is a one-line ERROR.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pcGuestImage, smpGuestImage } from '../vm/machine/pc-guest.js';
import { NOBODY, setprivPath, whyNotAsNobody } from '../support/as-nobody.js';

const bin = fileURLToPath(new URL('../../bin/tsvirt-install', import.meta.url));
let work: string;
let kernel: string;
let smpKernel: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tsvirt-install-kvm-'));
  chmodSync(work, 0o755);
  kernel = join(work, 'pc-guest.bzImage');
  writeFileSync(kernel, pcGuestImage());
  chmodSync(kernel, 0o644);
  smpKernel = join(work, 'smp-guest.bzImage');
  writeFileSync(smpKernel, smpGuestImage());
  env = { ...process.env, TSVIRT_STATE_DIR: join(work, 'run'), TSVIRT_DOMAINS_DIR: join(work, 'domains') };
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const args = (name: string, vcpus: number, image = kernel) => [
  '--name', name, '--memory', '64', '--vcpus', String(vcpus), '--virt-type', 'kvm', '--boot', `kernel=${image}`,
  '--osinfo', 'linux2022', '--graphics', 'none', '--transient',
];

describe.skipIf(!existsSync('/dev/kvm'))('tsvirt-install --virt-type kvm (needs /dev/kvm; skipped without it)', () => {
  it('runs the guest on KVM: console on stdout, ACPI power-off, exit 0', () => {
    const r = spawnSync(bin, args('kvmguest', 1), { env, encoding: 'utf8', input: '' });
    expect(r.stderr).not.toMatch(/ERROR/);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('irq: i8254 through IOAPIC pin 2, vector 0x41');
    expect(r.stdout).toContain('pc guest: powering off through PM1a_CNT');
  });

  it('runs an SMP guest with --vcpus 2: the AP starts and reports in', () => {
    const r = spawnSync(bin, args('kvmsmp', 2, smpKernel), { env, encoding: 'utf8', input: '' });
    expect(r.stderr).not.toMatch(/ERROR/);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('smp guest: AP running in real mode');
    expect(r.stdout).toContain('smp guest: AP with APIC ID 01 reported in');
  });

  it('names the cause and the fix when /dev/kvm is not permitted (run as nobody)', (ctx) => {
    const why = whyNotAsNobody();
    if (why) ctx.skip(why);
    const r = spawnSync(setprivPath(), [...NOBODY, process.execPath, bin, ...args('kvmperm', 1)], {
      env: { ...env, TSVIRT_STATE_DIR: join(work, 'nobody-run'), TSVIRT_DOMAINS_DIR: join(work, 'nobody-domains') },
      encoding: 'utf8',
      input: '',
    });
    expect(r.status).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('ERROR'));
    expect(errors).toEqual([expect.stringMatching(/^ERROR KVM is not permitted: cannot open \/dev\/kvm \(permission denied\); .*--virt-type qemu/)]);
  });
});
