// The devices a guest program talks to (console, done, IRQ request, one MMIO register),
// wired on a real IoBus, and a loop that runs a Vcpu until the program reports done.
import { KvmVm } from '../../../../src/vm/accel/kvm/kvm-vm.js';
import { IoBus } from '../../../../src/vm/bus.js';
import { pulse, type IrqLine } from '../../../../src/vm/irq.js';
import type { Vcpu } from '../../../../src/vm/vcpu.js';
import { CONSOLE_PORT, DONE_PORT, IRQ_GSI, IRQ_REQUEST_PORT, MMIO_TEST_BASE, prepare } from './guest-programs.js';

export interface ProgramRun {
  console: string;
  status: number | undefined;
  exits: string[];
}

export function programBus(getVcpu: () => Vcpu, irq?: IrqLine): { bus: IoBus; result: ProgramRun } {
  const bus = new IoBus();
  const result: ProgramRun = { console: '', status: undefined, exits: [] };
  bus.registerPio(CONSOLE_PORT, 1, { pioRead: () => 0, pioWrite: (_o, _s, v) => void (result.console += String.fromCharCode(v & 0xff)) }, 'console');
  bus.registerPio(DONE_PORT, 1, {
    pioRead: () => 0xff,
    pioWrite: (_o, _s, v) => {
      result.status = v & 0xff;
      getVcpu().kick();
    },
  }, 'done');
  bus.registerPio(IRQ_REQUEST_PORT, 1, {
    pioRead: () => 0xff,
    pioWrite: () => {
      if (!irq) throw new Error('this harness has no interrupt line');
      pulse(irq);
    },
  }, 'irq-request');
  let reg = 0;
  bus.registerMmio(MMIO_TEST_BASE, 0x1000, {
    mmioRead: (off) => (off === 0 ? reg : 0),
    mmioWrite: (off, _s, v) => void (off === 0 && (reg = v >>> 0)),
  }, 'mmio-register');
  return { bus, result };
}

/** Runs until the program writes DONE_PORT; any other exit is recorded and ends the run. */
export function runProgram(vcpu: Vcpu, result: ProgramRun, maxSlices = 10_000): ProgramRun {
  for (let i = 0; i < maxSlices && result.status === undefined; i++) {
    const exit = vcpu.run(1_000_000);
    if (exit.kind === 'budget') continue;
    result.exits.push(exit.kind === 'error' ? `error: ${exit.message}` : exit.kind === 'triple-fault' ? `triple-fault at rip 0x${exit.regs.rip.toString(16)}` : exit.kind);
    if (exit.kind !== 'hlt') break;
  }
  return result;
}

/** Runs a guest program on a KVM VM with the in-kernel irqchip (GSI IRQ_GSI wired to the program's request port). */
export function runOnKvm(mode: 16 | 32 | 64, program: Uint8Array, memoryBytes = 32 << 20): ProgramRun {
  const vm = KvmVm.create({ memoryBytes });
  try {
    let vcpu: ReturnType<KvmVm['createVcpu']> | undefined;
    const { bus, result } = programBus(() => vcpu!, vm.irqLine(IRQ_GSI));
    vcpu = vm.createVcpu(0, bus);
    vcpu.setRegisters(prepare(vm.memory, mode, program));
    return runProgram(vcpu, result);
  } finally {
    vm.close();
  }
}
