// The minimal machine the system-level guest programs (test/vm/cpu/guest/*.S) run on:
// RAM, an IoBus with a debug console (port 0xE9, as in QEMU/Bochs) and a test-result
// port (0xF4, a 32-bit write: 0x600D = pass, anything else a failure code), and one
// software CPU. The program is a flat binary loaded at 0x7C00 and entered in real mode
// with CS=0 (a BIOS hands a boot sector over that way); reset() gives every other
// register its power-on value (SDM Vol. 3A §9.1.1).
// Leaves out: interrupt controllers, timers, firmware.

import { IoBus, type AccessSize, type PioDevice } from '../../../../src/vm/bus.js';
import { ManualClock } from '../../../../src/vm/clock.js';
import { BufferGuestMemory } from '../../../../src/vm/memory.js';
import type { RegisterDump, VcpuExit } from '../../../../src/vm/vcpu.js';
import type { CpuFactory, TestCpu } from './cpu-factory.js';

export const DEBUG_CONSOLE_PORT = 0xe9;
export const TEST_RESULT_PORT = 0xf4;
export const TEST_PASS = 0x600d;
export const BOOT_ADDRESS = 0x7c00;
const RAM_BYTES = 16 << 20;

class DebugConsole implements PioDevice {
  text = '';
  pioRead(): number {
    return 0xe9; // Bochs/QEMU answer 0xE9 so that guests can detect the port
  }
  pioWrite(_offset: number, _size: AccessSize, value: number): void {
    this.text += String.fromCharCode(value & 0xff);
  }
}

class TestResultPort implements PioDevice {
  results: number[] = [];
  pioRead(): number {
    return 0;
  }
  pioWrite(_offset: number, _size: AccessSize, value: number): void {
    this.results.push(value >>> 0);
  }
}

export interface GuestRun {
  exit: VcpuExit;
  /** Values written to the result port, in order (a pass is [TEST_PASS]). */
  results: number[];
  console: string;
  regs: RegisterDump;
  instructions: number;
}

export function runGuestProgram(factory: CpuFactory, program: Uint8Array, maxInstructions = 50_000_000): GuestRun {
  const mem = BufferGuestMemory.allocate(RAM_BYTES);
  const bus = new IoBus();
  const console = new DebugConsole();
  const result = new TestResultPort();
  bus.registerPio(DEBUG_CONSOLE_PORT, 1, console, 'debug-console');
  bus.registerPio(TEST_RESULT_PORT, 4, result, 'test-result');
  mem.slice(BOOT_ADDRESS, program.length).set(program);
  const cpu: TestCpu = factory({ mem, bus, clock: new ManualClock() });
  cpu.reset();
  cpu.setRegisters({
    cs: { selector: 0, base: 0n, limit: 0xffff, attrs: 0x9b },
    rip: BigInt(BOOT_ADDRESS),
    rflags: 2n,
  });
  let exit: VcpuExit = { kind: 'budget' };
  let ran = 0;
  const slice = 1_000_000;
  while (ran < maxInstructions) {
    exit = cpu.run(slice);
    ran += slice;
    if (exit.kind !== 'budget') break;
  }
  return { exit, results: result.results, console: console.text, regs: cpu.getRegisters(), instructions: cpu.instructionsRetired };
}
