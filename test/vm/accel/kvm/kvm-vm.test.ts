import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { describeError } from '../../../../src/lib/errors.js';
import { KvmVm, type KvmVmOptions } from '../../../../src/vm/accel/kvm/kvm-vm.js';
import { longModeProgram, prepare, protectedModeProgram, realModeProgram } from '../support/guest-programs.js';
import { programBus, runOnKvm } from '../support/harness.js';
import { NOBODY, setprivPath, whyNotAsNobody } from '../../../support/as-nobody.js';

// This workplace's /dev/kvm emulates guests in software: fine for these small programs.
const haveKvm = existsSync('/dev/kvm');


describe.runIf(haveKvm)('KVM backend', () => {
  it('runs a real-mode program through port I/O exits', () => {
    const run = runOnKvm(16, realModeProgram());
    expect(run.console).toBe('real mode: sum=A314\n'); // 1+...+1000 = 500500 = 0x7A314, 16-bit
    expect(run.status).toBe(0);
  });

  it('runs a 32-bit protected-mode program', () => {
    const run = runOnKvm(32, protectedModeProgram());
    const q = (0x12345678n * 0x9abcn) / 0x1111n;
    expect(run.console).toBe(`protected mode: q=${q.toString(16).toUpperCase().padStart(8, '0')}\n`);
    expect(run.status).toBe(0);
  });

  it('runs a 64-bit program: paging, an IOAPIC interrupt to the in-kernel LAPIC, MMIO to a userspace device', () => {
    const run = runOnKvm(64, longModeProgram());
    expect({ console: run.console, exits: run.exits }).toEqual({ console: 'long mode\ninterrupt\nmmio ok\n', exits: [] });
    expect(run.status).toBe(0);
  });

  it('reports a triple fault as such, with the registers', () => {
    const vm = KvmVm.create({ memoryBytes: 4 << 20 });
    try {
      const bus = programBus(() => vcpu).bus;
      const vcpu = vm.createVcpu(0, bus);
      // ud2 with an empty IDT limit: #UD -> #GP -> #DF -> shutdown.
      const regs = prepare(vm.memory, 32, new Uint8Array([0x0f, 0x0b]));
      vcpu.setRegisters({ ...regs, idt: { base: 0n, limit: 0 } });
      const exit = vcpu.run(1);
      expect(exit.kind).toBe('triple-fault');
      if (exit.kind === 'triple-fault') expect(exit.regs.rip).toBe(0x10000n);
    } finally {
      vm.close();
    }
  });

  it('creates the vCPUs of an SMP guest in order, and no more than asked', () => {
    const vm = KvmVm.create({ memoryBytes: 4 << 20, vcpus: 2 });
    try {
      const bus = programBus(() => v0).bus;
      const v0 = vm.createVcpu(0, bus);
      expect(() => vm.createVcpu(2, bus)).toThrow(/out of order/);
      const v1 = vm.createVcpu(1, bus);
      expect([v0.index, v1.index]).toEqual([0, 1]);
      expect(() => vm.createVcpu(2, bus)).toThrow(/out of order/);
    } finally {
      vm.close();
    }
  });
});

/** The one line the CLI would print for a failed VM creation. */
function createError(opts: KvmVmOptions): string {
  try {
    KvmVm.create(opts).close();
  } catch (err) {
    return describeError(err);
  }
  throw new Error('KvmVm.create did not fail');
}

describe('KVM errors name the cause and the fix', () => {
  it('no KVM device', () => {
    expect(createError({ memoryBytes: 1 << 20, devicePath: '/nonexistent/kvm' })).toMatch(
      /^KVM is not available: \/nonexistent\/kvm does not exist; .*--virt-type qemu/,
    );
  });

  it('a device that is not KVM', () => {
    expect(createError({ memoryBytes: 1 << 20, devicePath: '/dev/null' })).toMatch(/^\/dev\/null is not a KVM device.*--virt-type qemu/);
  });

  it.runIf(haveKvm)('KVM_CREATE_VM failing', () => {
    expect(createError({ memoryBytes: 1 << 20, machineType: 0xff })).toMatch(/^KVM_CREATE_VM failed: Invalid argument.*; .*--virt-type qemu/);
  });

  it.runIf(haveKvm)('permission denied for an unprivileged user', (ctx) => {
    const why = whyNotAsNobody();
    if (why) ctx.skip(why);
    // /dev/kvm here is root-only (0600); run the built module as nobody.
    const dist = fileURLToPath(new URL('../../../../dist/vm/accel/kvm/kvm-vm.js', import.meta.url));
    const script = `import { KvmVm } from ${JSON.stringify(dist)};
      try { KvmVm.create({ memoryBytes: 1 << 20 }); console.log('opened'); } catch (e) { console.log(e.message + '; ' + e.hint); }`;
    const out = execFileSync(setprivPath(), [...NOBODY, process.execPath, '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    expect(out).toMatch(/KVM is not permitted: cannot open \/dev\/kvm \(permission denied\); add your user to the group .*--virt-type qemu/);
  });
});
