// The minimal machine the system-level guest programs (test/vm/cpu/guest/*.S) run on:
// RAM, an IoBus with a debug console (port 0xE9, as in QEMU/Bochs) and a test-result
// port (0xF4, a 32-bit write: 0x600D = pass, anything else a failure code), and one
// software CPU. The program is a flat binary loaded at 0x7C00 and entered in real mode
// with CS=0 (a BIOS hands a boot sector over that way); reset() gives every other
// register its power-on value (SDM Vol. 3A §9.1.1). A second entry, 'long-mode', skips
// the program's real- and protected-mode start-up: it builds the same page tables and
// segment state boot.inc would have built and starts at its `lm64` label, so that the
// system-level checks still say something when the mode switch itself is broken.
// Interrupts come from a test port instead of a PIC/APIC: writing a vector to 0xF8
// queues it as a maskable interrupt (answered through the InterruptAcceptor contract),
// writing to 0xF9 raises an NMI, so programs can check delivery, IF, the STI shadow,
// HLT wake-up and NMI blocking precisely. When the CPU halts with an interrupt it can
// take, the harness runs it again, as the machine's run loop would. A copy port (0xFA)
// plays a DMA engine: writing the address of {dst, src, len} copies guest memory from
// outside the CPU, as virtio devices do (reading it answers 0xD4A).
// Leaves out: interrupt controllers, timers, firmware.

import { IoBus, type AccessSize, type PioDevice } from '../../../../src/vm/bus.js';
import { HostClock } from '../../../../src/vm/clock.js';
import { BufferGuestMemory } from '../../../../src/vm/memory.js';
import type { InterruptAcceptor } from '../../../../src/vm/irq.js';
import type { RegisterDump, VcpuExit } from '../../../../src/vm/vcpu.js';
import type { CpuFactory, TestCpu } from './cpu-factory.js';
import { CODE64_DPL0, DATA_DPL0, segmentCache } from './descriptors.js';
import type { Assembled } from './toolchain.js';

export const DEBUG_CONSOLE_PORT = 0xe9;
export const TEST_RESULT_PORT = 0xf4;
export const TEST_PASS = 0x600d;
export const BOOT_ADDRESS = 0x7c00;
export const INTERRUPT_REQUEST_PORT = 0xf8;
export const NMI_REQUEST_PORT = 0xf9;
export const DMA_PORT = 0xfa;
const DMA_MAGIC = 0xd4a;
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

/** Maskable interrupts requested by the guest, in request order (one vector each). */
class TestInterrupts implements InterruptAcceptor, PioDevice {
  readonly queue: number[] = [];
  onNmi: () => void = () => {};
  hasInterrupt(): boolean {
    return this.queue.length > 0;
  }
  acknowledgeInterrupt(): number {
    return this.queue.shift() ?? -1;
  }
  pioRead(): number {
    return this.queue.length;
  }
  pioWrite(offset: number, _size: AccessSize, value: number): void {
    if (offset === 0) this.queue.push(value & 0xff);
    else this.onNmi();
  }
}

/** Copies guest memory the way a device does: through GuestMemory, not through the CPU. */
class TestDma implements PioDevice {
  constructor(private readonly mem: BufferGuestMemory) {}
  pioRead(): number {
    return DMA_MAGIC;
  }
  pioWrite(_offset: number, _size: AccessSize, descriptorGpa: number): void {
    const dst = this.mem.read32(descriptorGpa);
    const src = this.mem.read32(descriptorGpa + 4);
    const len = this.mem.read32(descriptorGpa + 8);
    this.mem.slice(dst, len).set(this.mem.slice(src, len));
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

export type GuestEntry = 'real-mode' | 'long-mode';

// boot.inc's fixed layout (see its header).
const PML4_ADDR = 0x10_0000;
const PDPT_ADDR = 0x10_1000;
const PD_ADDR = 0x10_2000;
const SEL_KCODE = 0x10;
const SEL_KDATA = 0x18;
const GDT_LIMIT = 0x4f;

export function runGuestProgram(
  factory: CpuFactory,
  assembled: Assembled,
  entry: GuestEntry = 'real-mode',
  maxInstructions = 50_000_000,
): GuestRun {
  const program = assembled.bytes;
  const mem = BufferGuestMemory.allocate(RAM_BYTES);
  const bus = new IoBus();
  const console = new DebugConsole();
  const result = new TestResultPort();
  bus.registerPio(DEBUG_CONSOLE_PORT, 1, console, 'debug-console');
  bus.registerPio(TEST_RESULT_PORT, 4, result, 'test-result');
  const interrupts = new TestInterrupts();
  bus.registerPio(INTERRUPT_REQUEST_PORT, 2, interrupts, 'test-interrupts');
  bus.registerPio(DMA_PORT, 1, new TestDma(mem), 'test-dma');
  mem.slice(BOOT_ADDRESS, program.length).set(program);
  // Host time, so that RDTSC moves forward as on hardware (programs only compare TSC
  // readings with each other; nothing here asserts on durations).
  const cpu: TestCpu = factory({ mem, bus, clock: new HostClock(), interrupts });
  interrupts.onNmi = () => cpu.raiseNmi();
  cpu.reset();
  if (entry === 'real-mode') {
    cpu.setRegisters({
      cs: { selector: 0, base: 0n, limit: 0xffff, attrs: 0x9b },
      rip: BigInt(BOOT_ADDRESS),
      rflags: 2n,
    });
  } else {
    const symbol = (name: string) => {
      const v = assembled.symbols.get(name);
      if (v === undefined) throw new Error(`guest program has no symbol ${name}`);
      return v;
    };
    // What boot.inc's 32-bit part builds: PML4[0] -> PDPT[0] -> PD mapping 8 MiB with
    // 2 MiB user/writable pages.
    mem.slice(PML4_ADDR, 0x3000).fill(0);
    mem.write64(PML4_ADDR, BigInt(PDPT_ADDR | 7));
    mem.write64(PDPT_ADDR, BigInt(PD_ADDR | 7));
    for (let i = 0; i < 4; i++) mem.write64(PD_ADDR + 8 * i, BigInt(i * 0x20_0000 + 0x87));
    const data = segmentCache(SEL_KDATA, DATA_DPL0);
    cpu.setRegisters({
      cs: segmentCache(SEL_KCODE, CODE64_DPL0),
      ds: data, es: data, ss: data,
      gdt: { base: BigInt(symbol('gdt')), limit: GDT_LIMIT },
      cr0: 0x8001_0011n, // PE | ET | WP | PG
      cr3: BigInt(PML4_ADDR),
      cr4: 0x620n, // PAE | OSFXSR | OSXMMEXCPT
      efer: 0xd01n, // SCE | LME | LMA | NXE
      rip: BigInt(symbol('lm64')),
      rsp: 0x9_0000n,
      rflags: 2n,
    });
  }
  let exit: VcpuExit = { kind: 'budget' };
  let ran = 0;
  const slice = 1_000_000;
  while (ran < maxInstructions) {
    exit = cpu.run(slice);
    ran += slice;
    if (exit.kind === 'hlt' && interrupts.hasInterrupt() && (cpu.getRegisters().rflags & 0x200n) !== 0n) continue;
    if (exit.kind !== 'budget') break;
  }
  return { exit, results: result.results, console: console.text, regs: cpu.getRegisters(), instructions: cpu.instructionsRetired };
}
