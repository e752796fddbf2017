// A 64-bit long-mode environment in guest memory for running one instruction snippet at
// a time on the software CPU, laid out so that the snippet sees the same virtual
// addresses as natively in test/vm/cpu/diff/native-runner.c (DATA_VA, STATE_VA, CODE_VA).
// It follows what a 64-bit kernel sets up (SDM Vol. 3A §9.8.5 "Initializing IA-32e
// mode"): 4-level paging, a GDT with a 64-bit code segment (CS.L=1), a 64-bit TSS, an
// IDT whose every vector points at its own HLT so that an exception ends the run and
// names its vector. Registers are loaded with setRegisters, segment caches included, as
// KVM_SET_SREGS would. Leaves out: interrupts, user mode, x87 state.

import { IoBus } from '../../../../src/vm/bus.js';
import { ManualClock } from '../../../../src/vm/clock.js';
import { BufferGuestMemory } from '../../../../src/vm/memory.js';
import type { RegisterDump, Vcpu, VcpuExit } from '../../../../src/vm/vcpu.js';
import type { CpuFactory } from './cpu-factory.js';
import {
  CODE64_DPL0, DATA_DPL0, PageTables, PTE_P, PTE_RW, PTE_NX, SEG_DB, SEG_G, segmentCache, segmentDescriptor,
  writeIdtGate64, writeTss64Descriptor,
} from './descriptors.js';
import { assemble } from './toolchain.js';

// Virtual layout shared with native-runner.c.
/** The mapped data window; its first two pages live in distant frames (see constructor). */
export const DATA_MAP_VA = 0x1000_0000;
/** The compared buffer: it straddles the page boundary at DATA_MAP_VA + 0x1000 (offset 0x80). */
export const DATA_VA = DATA_MAP_VA + 0xf80;
export const DATA_BYTES = 256;
export const STATE_VA = 0x1010_0000;
export const STATE_XMM_OFFSET = 0x90;
export const CODE_VA = 0x2000_0000;
export const STUB_VA = CODE_VA + 0x1000;
/** Default RSP: inside the data mapping, above the compared bytes. */
export const DEFAULT_RSP = DATA_VA + 0x800;

// Guest-physical layout (the low 2 MiB are identity mapped for the system structures).
const RAM_BYTES = 4 << 20;
const PT_POOL_GPA = 0x1000;
const PT_POOL_END = 0x10000;
const GDT_GPA = 0x10000;
const IDT_GPA = 0x11000;
const TSS_GPA = 0x12000;
const EXC_STUBS_GPA = 0x13000; // vector v handler: a HLT at EXC_STUBS_GPA + 16 v
const RSP0_TOP = 0x1f_f000;
const DATA_MAP_GPA = 0x20_0000; // pages 2.. of the window, contiguous
export const DATA_PAGE0_GPA = 0x30_0000; // page 0 of the window
export const DATA_PAGE1_GPA = 0x2f_0000; // page 1: below page 0, so a crossing access must translate twice
const DATA_MAP_BYTES = 0x1_0000;
const STATE_GPA = 0x21_0000;
const CODE_GPA = 0x22_0000;

const RFLAGS_IF = 0x200n;
const SEL_CODE = 0x08;
const SEL_DATA = 0x10;
const SEL_TSS = 0x18;
const SEL_CODE32 = 0x28; // a 32-bit code segment: compatibility mode under long mode
const CODE32_DPL0 = { ...CODE64_DPL0, flags: SEG_G | SEG_DB };

// Control registers as Linux runs user code: CR0.PE|MP|ET|NE|WP|PG, CR4.PAE|OSFXSR|
// OSXMMEXCPT (SSE usable, SDM Vol. 3A §13.1.4), EFER.SCE|LME|LMA|NXE.
const CR0 = 0x8005_0033n;
const CR4 = 0x620n;
const EFER = 0xd01n;

const STUB_SOURCE = `
.intel_syntax noprefix
.text
xmm_entry:
  movdqu xmm0, xmmword ptr [${STATE_VA + STATE_XMM_OFFSET}]
  movdqu xmm1, xmmword ptr [${STATE_VA + STATE_XMM_OFFSET + 16}]
  movdqu xmm2, xmmword ptr [${STATE_VA + STATE_XMM_OFFSET + 32}]
  movdqu xmm3, xmmword ptr [${STATE_VA + STATE_XMM_OFFSET + 48}]
  jmp ${CODE_VA}
.org 0x100
epi_plain:
  hlt
.org 0x200
epi_xmm:
  movdqu xmmword ptr [${STATE_VA + STATE_XMM_OFFSET}], xmm0
  movdqu xmmword ptr [${STATE_VA + STATE_XMM_OFFSET + 16}], xmm1
  movdqu xmmword ptr [${STATE_VA + STATE_XMM_OFFSET + 32}], xmm2
  movdqu xmmword ptr [${STATE_VA + STATE_XMM_OFFSET + 48}], xmm3
epi_xmm_hlt:
  hlt
`;

export const GPR_NAMES = [
  'rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
] as const;
export type GprName = (typeof GPR_NAMES)[number];

export interface CaseInput {
  gpr: bigint[]; // 16, encoding order
  rflags: bigint;
  xmm: bigint[]; // 8 qwords: xmm0 lo, xmm0 hi, ... xmm3 hi
  data?: Uint8Array; // DATA_BYTES
}

export type CaseOutput =
  | { kind: 'ok'; gpr: bigint[]; rflags: bigint; xmm: bigint[]; data?: Uint8Array }
  | { kind: 'exception'; vector: number; rip: bigint; gpr: bigint[]; rflags: bigint }
  | { kind: 'stopped'; why: string };

export class SnippetMachine {
  readonly mem = BufferGuestMemory.allocate(RAM_BYTES);
  readonly bus = new IoBus();
  readonly clock = new ManualClock();
  readonly cpu: Vcpu;
  private readonly epiPlain: number;
  private readonly epiXmm: number;
  private readonly epiXmmHlt: number;
  private readonly xmmEntry: number;
  private entry = CODE_VA;
  private endRip = 0;
  private cs = segmentCache(SEL_CODE, CODE64_DPL0);

  constructor(factory: CpuFactory) {
    const mem = this.mem;
    const pt = new PageTables(mem, PT_POOL_GPA, PT_POOL_END);
    pt.map2m(0, 0, 0x20_0000, PTE_P | PTE_RW);
    pt.map4k(DATA_MAP_VA, DATA_PAGE0_GPA, 0x1000, PTE_P | PTE_RW | PTE_NX);
    pt.map4k(DATA_MAP_VA + 0x1000, DATA_PAGE1_GPA, 0x1000, PTE_P | PTE_RW | PTE_NX);
    pt.map4k(DATA_MAP_VA + 0x2000, DATA_MAP_GPA + 0x2000, DATA_MAP_BYTES - 0x2000, PTE_P | PTE_RW | PTE_NX);
    pt.map4k(STATE_VA, STATE_GPA, 0x1000, PTE_P | PTE_RW | PTE_NX);
    pt.map4k(CODE_VA, CODE_GPA, 0x2000, PTE_P | PTE_RW);

    mem.write64(GDT_GPA + SEL_CODE, segmentDescriptor(CODE64_DPL0));
    mem.write64(GDT_GPA + SEL_DATA, segmentDescriptor(DATA_DPL0));
    writeTss64Descriptor(mem, GDT_GPA + SEL_TSS, TSS_GPA, 0x67, true);
    mem.write64(GDT_GPA + SEL_CODE32, segmentDescriptor(CODE32_DPL0));
    mem.write64(TSS_GPA + 4, BigInt(RSP0_TOP)); // TSS.RSP0 (SDM Vol. 3A Figure 8-11)
    for (let v = 0; v < 256; v++) {
      mem.write8(EXC_STUBS_GPA + v * 16, 0xf4); // HLT
      writeIdtGate64(mem, IDT_GPA, v, EXC_STUBS_GPA + v * 16, { selector: SEL_CODE });
    }

    const stubs = assemble(STUB_SOURCE, { baseAddress: STUB_VA });
    mem.slice(CODE_GPA + 0x1000, stubs.bytes.length).set(stubs.bytes);
    this.xmmEntry = stubs.symbols.get('xmm_entry')!;
    this.epiPlain = stubs.symbols.get('epi_plain')!;
    this.epiXmm = stubs.symbols.get('epi_xmm')!;
    this.epiXmmHlt = stubs.symbols.get('epi_xmm_hlt')!;

    this.cpu = factory({ mem, bus: this.bus, clock: this.clock });
    const data = segmentCache(SEL_DATA, DATA_DPL0);
    this.cpu.setRegisters({
      cs: segmentCache(SEL_CODE, CODE64_DPL0),
      ds: data, es: data, ss: data,
      fs: { ...data, selector: 0 },
      gs: { ...data, selector: 0, base: BigInt(DATA_VA) }, // as the native runner's ARCH_SET_GS
      tr: { selector: SEL_TSS, base: BigInt(TSS_GPA), limit: 0x67, attrs: 0x8b },
      ldtr: { selector: 0, base: 0n, limit: 0, attrs: 0 },
      gdt: { base: BigInt(GDT_GPA), limit: 0x2f },
      idt: { base: BigInt(IDT_GPA), limit: 256 * 16 - 1 },
      cr0: CR0, cr3: BigInt(pt.pml4Gpa), cr4: CR4, efer: EFER, cr2: 0n, cr8: 0n,
    });
  }

  /**
   * Places a snippet at CODE_VA followed by a jmp rel32 to the chosen epilogue. A 32-bit
   * snippet runs in compatibility mode (CS = a 32-bit code segment, SDM Vol. 3A §5.2.1).
   */
  loadSnippet(code: Uint8Array, sse: boolean, bits: 32 | 64 = 64): void {
    if (sse && bits === 32) throw new Error('SSE snippets run in 64-bit mode only');
    this.cs = bits === 64 ? segmentCache(SEL_CODE, CODE64_DPL0) : segmentCache(SEL_CODE32, CODE32_DPL0);
    if (code.length + 5 > 0x1000) throw new Error('snippet too long');
    const target = sse ? this.epiXmm : this.epiPlain;
    const page = this.mem.slice(CODE_GPA, 0x1000);
    page.fill(0xcc); // INT3 after the trailer: a run that falls off the end stops visibly
    page.set(code, 0);
    const jmpAt = code.length;
    page[jmpAt] = 0xe9;
    new DataView(page.buffer, page.byteOffset).setInt32(jmpAt + 1, target - (CODE_VA + jmpAt + 5), true);
    this.entry = sse ? this.xmmEntry : CODE_VA;
    this.endRip = (sse ? this.epiXmmHlt : this.epiPlain) + 1;
  }

  runCase(input: CaseInput, budget = 100_000): CaseOutput {
    const mem = this.mem;
    if (input.data) this.writeVirt(DATA_VA, input.data);
    const xmm = mem.slice(STATE_GPA + STATE_XMM_OFFSET, 64);
    const xv = new DataView(xmm.buffer, xmm.byteOffset, 64);
    for (let i = 0; i < 8; i++) xv.setBigUint64(i * 8, input.xmm[i], true);
    // IF is set as in the native user-mode run (PUSHF images must agree); no interrupt
    // source is wired, so none arrives.
    const regs: Partial<RegisterDump> = { cs: this.cs, rip: BigInt(this.entry), rflags: input.rflags | RFLAGS_IF | 2n };
    const r = regs as Record<string, bigint>;
    for (let i = 0; i < 16; i++) r[GPR_NAMES[i]] = input.gpr[i];
    this.cpu.setRegisters(regs);
    const exit: VcpuExit = this.cpu.run(budget);
    const out = this.cpu.getRegisters();
    const outR = out as unknown as Record<string, bigint>;
    const gpr = GPR_NAMES.map((n) => outR[n]);
    if (exit.kind !== 'hlt') {
      return { kind: 'stopped', why: exit.kind === 'error' ? `error: ${exit.message}` : `exit ${exit.kind}` };
    }
    const rip = Number(out.rip);
    if (rip > EXC_STUBS_GPA && rip <= EXC_STUBS_GPA + 256 * 16) {
      const vector = Math.floor((rip - 1 - EXC_STUBS_GPA) / 16);
      // The frame the CPU pushed (SDM Vol. 3A §6.14.2): [error code,] RIP, CS, RFLAGS, RSP, SS.
      const hasError = vector === 8 || (vector >= 10 && vector <= 14) || vector === 17;
      const frameRsp = Number(out.rsp) + (hasError ? 8 : 0);
      const frame = (k: number) => this.readVirt64(frameRsp + 8 * k);
      gpr[4] = frame(3);
      return { kind: 'exception', vector, rip: frame(0), gpr, rflags: frame(2) };
    }
    if (rip !== this.endRip) {
      return { kind: 'stopped', why: `HLT at unexpected rip 0x${rip.toString(16)} (expected 0x${this.endRip.toString(16)})` };
    }
    const result: CaseOutput = { kind: 'ok', gpr, rflags: out.rflags, xmm: [] };
    if (this.entry !== CODE_VA) for (let i = 0; i < 8; i++) result.xmm.push(xv.getBigUint64(i * 8, true));
    else result.xmm.push(...input.xmm);
    if (input.data) result.data = this.readVirt(DATA_VA, DATA_BYTES);
    return result;
  }

  /** The guest-physical address of a data-window or low identity-mapped virtual address. */
  private gpaOf(va: number): number {
    const off = va - DATA_MAP_VA;
    if (off >= 0 && off < 0x1000) return DATA_PAGE0_GPA + off;
    if (off >= 0x1000 && off < 0x2000) return DATA_PAGE1_GPA + off - 0x1000;
    if (off >= 0x2000 && off < DATA_MAP_BYTES) return DATA_MAP_GPA + off;
    if (va >= 0 && va < 0x20_0000) return va;
    throw new Error(`0x${va.toString(16)} is not mapped by the snippet machine`);
  }

  private readVirt(va: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) out[i] = this.mem.read8(this.gpaOf(va + i));
    return out;
  }

  private writeVirt(va: number, bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) this.mem.write8(this.gpaOf(va + i), bytes[i]);
  }

  /** Reads a qword through the fixed mapping (an exception frame on the snippet's stack). */
  private readVirt64(va: number): bigint {
    return new DataView(this.readVirt(va, 8).buffer).getBigUint64(0, true);
  }
}
