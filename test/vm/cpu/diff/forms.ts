// The instruction forms the differential tests cover, generated as data: each form is an
// Intel-syntax snippet (assembled by GNU as), the flags the SDM leaves undefined for it
// (masked before comparing; SDM Vol. 2 "Flags Affected" of each instruction), and a
// shaper that constrains inputs (pointers into the data buffer, shift counts, divisors).
// Groups: ALU, unary, shift/rotate, multiply/divide, bit, string, exchange, conditions
// (CMOVcc/SETcc/Jcc), moves and extensions (incl. GS-based and page-crossing operands),
// LEA, stack, hint/fence forms, x87, SSE2 as busybox uses it (with MXCSR rounding, FTZ,
// DAZ and status flags), MMX (with the x87 aliasing), and 32-bit code in compatibility
// mode (BCD, INTO, PUSHA/POPA, 16-bit addressing, ...).
// Leaves out: TZCNT/LZCNT/POPCNT/MOVBE/BMI (the CPU does not advertise them), AVX, far
// control transfers and system instructions (the guest programs cover those), x87
// extended-precision arithmetic and transcendental functions (the CPU computes in float64).

import type { CaseInput } from '../support/snippet-machine.js';
import { DATA_VA } from '../support/snippet-machine.js';
import { AF, ARITH_FLAGS, CF, type CaseShaper, gprIndex, interesting64, interestingXmmQword, modestDouble, OF, PF, type Rng, SF, ZF } from './cases.js';

export type Undef = number | ((c: CaseInput) => number);

export interface Form {
  name: string;
  group: string;
  asm: string;
  /** Compare (and randomise) the data buffer. */
  mem?: boolean;
  /** Load/compare XMM0-3. */
  sse?: boolean;
  undef?: Undef;
  shape?: CaseShaper;
  /** Case count multiplier (the main register form of an operation gets more). */
  weight?: number;
  /** 32 runs the snippet in compatibility mode (as a 32-bit kernel or process would). */
  bits?: 32 | 64;
}

type Size = 8 | 16 | 32 | 64;
const SIZES: readonly Size[] = [8, 16, 32, 64];
const PTR: Record<Size, string> = { 8: 'byte ptr', 16: 'word ptr', 32: 'dword ptr', 64: 'qword ptr' };

// Register names by 64-bit name and size.
const NAMES: Record<string, Record<Size, string>> = {};
for (const [r64, r32, r16, r8] of [
  ['rax', 'eax', 'ax', 'al'], ['rcx', 'ecx', 'cx', 'cl'], ['rdx', 'edx', 'dx', 'dl'], ['rbx', 'ebx', 'bx', 'bl'],
  ['rbp', 'ebp', 'bp', 'bpl'], ['rsi', 'esi', 'si', 'sil'], ['rdi', 'edi', 'di', 'dil'],
]) NAMES[r64] = { 64: r64, 32: r32, 16: r16, 8: r8 };
for (let i = 8; i < 16; i++) NAMES[`r${i}`] = { 64: `r${i}`, 32: `r${i}d`, 16: `r${i}w`, 8: `r${i}b` };
function reg(r64: string, size: Size): string {
  return NAMES[r64][size];
}

/** Register pairs per size: a legacy pair, an REX pair, a mixed one, a same-register one. */
function pairs(size: Size): Array<[string, string]> {
  if (size === 8) return [['al', 'bl'], ['ah', 'dl'], ['sil', 'r9b'], ['ch', 'ch'], ['r12b', 'dil']];
  return [['rax', 'rbx'], ['rcx', 'rdx'], ['r9', 'rsi'], ['r13', 'r13'], ['rdi', 'r12']].map(
    ([a, b]) => [reg(a, size), reg(b, size)] as [string, string],
  );
}

const MEM_BASE = 'r15';
/** Memory-operand forms address the data buffer through r15 (and rsi as a small index). */
const memShape: CaseShaper = (c, rng) => {
  c.gpr[gprIndex('r15')] = BigInt(DATA_VA);
  c.gpr[gprIndex('rsi')] = BigInt(rng.below(8));
};
function m(size: Size, disp: number, indexed = false): string {
  return `${PTR[size]} [${MEM_BASE}${indexed ? '+rsi*8' : ''}+${disp}]`;
}

function seq(...shapers: CaseShaper[]): CaseShaper {
  return (c, rng) => shapers.forEach((s) => s(c, rng));
}
function setReg(name: string, f: (rng: Rng, c: CaseInput) => bigint): CaseShaper {
  const i = gprIndex(name as never);
  return (c, rng) => {
    c.gpr[i] = f(rng, c);
  };
}

const forms: Form[] = [];
function add(f: Form): void {
  forms.push(f);
}

// ---- ALU: ADD OR ADC SBB AND SUB XOR CMP TEST (SDM Vol. 2: logic ops leave AF undefined)
const IMM8 = [0x7f, -0x80, 5];
function immFor(size: Size): number {
  return size === 8 ? 0xa5 - 256 : size === 16 ? 0x8001 - 65536 : -0x789abcdf;
}
for (const op of ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp', 'test']) {
  const undef = ['or', 'and', 'xor', 'test'].includes(op) ? AF : 0;
  const g = 'alu';
  for (const size of SIZES) {
    pairs(size).forEach(([a, b], i) => add({ name: `${op} r${size}, r${size} (${a},${b})`, group: g, asm: `${op} ${a}, ${b}`, undef, weight: i === 0 ? 4 : 0.5 }));
    const acc = reg('rax', size);
    add({ name: `${op} ${acc}, imm (short)`, group: g, asm: `${op} ${acc}, ${immFor(size)}`, undef });
    add({ name: `${op} r${size}, imm`, group: g, asm: `${op} ${reg('r10', size)}, ${immFor(size)}`, undef });
    if (op !== 'test' && size !== 8) {
      for (const imm of IMM8) add({ name: `${op} r${size}, imm8 ${imm}`, group: g, asm: `${op} ${reg('rbx', size)}, ${imm}`, undef, weight: 0.3 });
    }
    const b = reg('rdx', size);
    add({ name: `${op} m${size}, r${size}`, group: g, asm: `${op} ${m(size, 0x21)}, ${b}`, undef, mem: true, shape: memShape });
    if (op !== 'test') add({ name: `${op} r${size}, m${size}`, group: g, asm: `${op} ${b}, ${m(size, 0x33, true)}`, undef, mem: true, shape: memShape });
    add({ name: `${op} m${size}, imm`, group: g, asm: `${op} ${m(size, 0x40)}, ${immFor(size)}`, undef, mem: true, shape: memShape });
    if (!['cmp', 'test'].includes(op)) {
      add({ name: `lock ${op} m${size}, r${size}`, group: g, asm: `lock ${op} ${m(size, 0x18)}, ${b}`, undef, mem: true, shape: memShape });
    }
  }
}

// ---- INC DEC NEG NOT
for (const op of ['inc', 'dec', 'neg', 'not']) {
  for (const size of SIZES) {
    add({ name: `${op} r${size}`, group: 'unary', asm: `${op} ${reg('r11', size)}`, weight: 2 });
    if (size === 8) add({ name: `${op} ah`, group: 'unary', asm: `${op} ah` });
    add({ name: `${op} m${size}`, group: 'unary', asm: `${op} ${m(size, 0x51)}`, mem: true, shape: memShape });
  }
}

// ---- Shifts and rotates (SDM Vol. 2 SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR "Flags Affected")
const SHIFT_COUNTS = [0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 255];
function shiftUndef(op: string, size: Size, rawCount: number): number {
  const masked = rawCount & (size === 64 ? 63 : 31);
  if (masked === 0) return 0; // flags unaffected: all of them must be preserved
  const rotate = op.startsWith('r');
  let u = 0;
  if (masked !== 1) u |= OF;
  if (!rotate) {
    u |= AF;
    if ((op === 'shl' || op === 'shr') && masked >= size) u |= CF;
  }
  return u;
}
for (const op of ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sar']) {
  const g = 'shift';
  for (const size of SIZES) {
    const r = reg('rbx', size);
    add({ name: `${op} r${size}, 1`, group: g, asm: `${op} ${r}, 1`, undef: shiftUndef(op, size, 1), weight: 2 });
    add({
      name: `${op} r${size}, cl`, group: g, asm: `${op} ${r}, cl`, weight: 4,
      undef: (c) => shiftUndef(op, size, Number(c.gpr[1] & 0xffn)),
      shape: setReg('rcx', (rng, c) => (rng.below(2) ? BigInt(rng.pick(SHIFT_COUNTS)) | (c.gpr[1] & ~0xffn) : c.gpr[1])),
    });
    for (const n of new Set([0, 3, size - 1, size, size + 1, 33, 255])) {
      add({ name: `${op} r${size}, imm ${n}`, group: g, asm: `${op} ${r}, ${n}`, undef: shiftUndef(op, size, n), weight: 0.25 });
    }
    add({
      name: `${op} m${size}, cl`, group: g, asm: `${op} ${m(size, 0x29)}, cl`, mem: true,
      undef: (c) => shiftUndef(op, size, Number(c.gpr[1] & 0xffn)),
      shape: seq(memShape, setReg('rcx', (rng) => BigInt(rng.pick(SHIFT_COUNTS)))),
    });
  }
}

// ---- SHLD / SHRD: 16-bit counts above 16 give undefined results, so they are not drawn.
function shldUndef(size: Size, raw: number): number {
  const masked = raw & (size === 64 ? 63 : 31);
  if (masked === 0) return 0;
  return AF | (masked !== 1 ? OF : 0);
}
for (const op of ['shld', 'shrd']) {
  for (const size of [16, 32, 64] as Size[]) {
    const counts = SHIFT_COUNTS.filter((n) => size !== 16 || (n & 31) <= 16);
    const a = reg('rdi', size);
    const b = reg('r8', size);
    add({
      name: `${op} r${size}, r${size}, cl`, group: 'shift', asm: `${op} ${a}, ${b}, cl`, weight: 4,
      undef: (c) => shldUndef(size, Number(c.gpr[1] & 0xffn)),
      shape: setReg('rcx', (rng) => BigInt(rng.pick(counts))),
    });
    for (const n of counts.filter((x) => x < 70)) {
      add({ name: `${op} r${size}, r${size}, ${n}`, group: 'shift', asm: `${op} ${a}, ${b}, ${n}`, undef: shldUndef(size, n), weight: 0.2 });
    }
    add({
      name: `${op} m${size}, r${size}, cl`, group: 'shift', asm: `${op} ${m(size, 0x60)}, ${b}, cl`, mem: true,
      undef: (c) => shldUndef(size, Number(c.gpr[1] & 0xffn)),
      shape: seq(memShape, setReg('rcx', (rng) => BigInt(rng.pick(counts)))),
    });
  }
}

// ---- Multiply and divide (MUL/IMUL: SF ZF AF PF undefined; DIV/IDIV: all undefined)
const MUL_UNDEF = SF | ZF | AF | PF;
for (const size of SIZES) {
  const g = 'muldiv';
  const r = reg('rbx', size);
  add({ name: `mul r${size}`, group: g, asm: `mul ${r}`, undef: MUL_UNDEF, weight: 3 });
  add({ name: `imul r${size} (one operand)`, group: g, asm: `imul ${r}`, undef: MUL_UNDEF, weight: 3 });
  add({ name: `mul m${size}`, group: g, asm: `mul ${m(size, 0x10)}`, undef: MUL_UNDEF, mem: true, shape: memShape });
  if (size !== 8) {
    add({ name: `imul r${size}, r${size}`, group: g, asm: `imul ${reg('rcx', size)}, ${reg('r14', size)}`, undef: MUL_UNDEF, weight: 3 });
    add({ name: `imul r${size}, m${size}`, group: g, asm: `imul ${reg('rcx', size)}, ${m(size, 0x38)}`, undef: MUL_UNDEF, mem: true, shape: memShape });
    add({ name: `imul r${size}, r${size}, imm8`, group: g, asm: `imul ${reg('rdx', size)}, ${reg('rsi', size)}, -7`, undef: MUL_UNDEF });
    add({ name: `imul r${size}, r${size}, imm`, group: g, asm: `imul ${reg('rdx', size)}, ${reg('rsi', size)}, ${immFor(size)}`, undef: MUL_UNDEF });
  }
  // Divide: mostly in-range quotients, with divide-by-zero and overflow (#DE) mixed in.
  for (const op of ['div', 'idiv']) {
    const divisor = reg('rbx', size);
    add({
      name: `${op} r${size}`, group: g, asm: `${op} ${divisor}`, undef: ARITH_FLAGS, weight: 4,
      shape: divShape(op === 'idiv', size, 'rbx'),
    });
    add({
      name: `${op} m${size}`, group: g, asm: `${op} ${m(size, 0x48)}`, undef: ARITH_FLAGS, mem: true,
      shape: seq(memShape, (c, rng) => {
        divShape(op === 'idiv', size, 'rbx')(c, rng);
        const v = new DataView(c.data!.buffer);
        const d = c.gpr[gprIndex('rbx')];
        for (let k = 0; k < size / 8; k++) v.setUint8(0x48 + k, Number((d >> BigInt(8 * k)) & 0xffn));
      }),
    });
  }
}

/**
 * Dividend in rdx:rax (ah:al for 8-bit) mostly below divisor << size so the quotient
 * fits; 1 in 8 cases keeps the random (overflowing) high half, 1 in 16 divides by zero.
 */
function divShape(signed: boolean, size: Size, divisorReg: string): CaseShaper {
  return (c, rng) => {
    const di = gprIndex(divisorReg as never);
    const bits = BigInt(size);
    const mask = (1n << bits) - 1n;
    const roll = rng.below(16);
    if (roll === 0) {
      c.gpr[di] &= ~mask;
      return;
    }
    if (roll <= 2) return;
    const d = c.gpr[di] & mask;
    if (d === 0n) return;
    // High half: a small value (unsigned: below the divisor; signed: sign-extension of the low half or small).
    let high: bigint;
    if (signed) {
      const lowSign = size === 8 ? (c.gpr[0] >> 7n) & 1n : (c.gpr[0] >> (bits - 1n)) & 1n;
      high = lowSign ? mask : 0n;
    } else {
      high = BigInt(rng.below(1 << 16)) % d;
    }
    if (size === 8) {
      c.gpr[0] = (c.gpr[0] & ~0xff00n) | ((high & 0xffn) << 8n);
    } else {
      c.gpr[2] = (c.gpr[2] & ~mask) | high;
    }
  };
}

// ---- Bit instructions (BT*: CF set, ZF unchanged, OF SF AF PF undefined; BSF/BSR: only ZF defined)
const BT_UNDEF = OF | SF | AF | PF;
const BS_UNDEF = CF | OF | SF | AF | PF;
for (const op of ['bt', 'bts', 'btr', 'btc']) {
  for (const size of [16, 32, 64] as Size[]) {
    const g = 'bit';
    add({ name: `${op} r${size}, r${size}`, group: g, asm: `${op} ${reg('rax', size)}, ${reg('rcx', size)}`, undef: BT_UNDEF, weight: 2 });
    add({ name: `${op} r${size}, imm8`, group: g, asm: `${op} ${reg('r9', size)}, ${size - 3}`, undef: BT_UNDEF });
    add({ name: `${op} r${size}, imm8 masked`, group: g, asm: `${op} ${reg('r9', size)}, ${size + 5}`, undef: BT_UNDEF });
    add({ name: `${op} m${size}, imm8`, group: g, asm: `${op} ${m(size, 0x70)}, 13`, undef: BT_UNDEF, mem: true, shape: memShape });
    // Register bit offsets address memory beyond the operand (SDM "bit base"): keep them in the buffer.
    add({
      name: `${op} m${size}, r${size} (bit string)`, group: g, asm: `${op} ${m(size, 0x80)}, ${reg('rcx', size)}`, undef: BT_UNDEF, mem: true,
      shape: seq(memShape, setReg('rcx', (rng) => BigInt.asUintN(64, BigInt(rng.below(0x400) - 0x200)))),
    });
    if (op !== 'bt') add({ name: `lock ${op} m${size}, r${size}`, group: g, asm: `lock ${op} ${m(size, 0x80)}, ${reg('rcx', size)}`, undef: BT_UNDEF, mem: true, shape: seq(memShape, setReg('rcx', (rng) => BigInt(rng.below(0x200)))) });
  }
}
for (const op of ['bsf', 'bsr']) {
  for (const size of [16, 32, 64] as Size[]) {
    // A zero source leaves the destination unchanged on every x86 CPU (AMD documents it,
    // Linux's ffs/fls rely on it), so it is compared although Intel's SDM says undefined.
    const zeroSource = setReg('rsi', (rng, c) => (rng.below(4) === 0 ? c.gpr[gprIndex('rsi')] & ~((1n << BigInt(size)) - 1n) : c.gpr[gprIndex('rsi')]));
    add({ name: `${op} r${size}, r${size}`, group: 'bit', asm: `${op} ${reg('rdx', size)}, ${reg('rsi', size)}`, undef: BS_UNDEF, weight: 3, shape: zeroSource });
    add({ name: `${op} r${size}, m${size}`, group: 'bit', asm: `${op} ${reg('rdx', size)}, ${m(size, 0x90)}`, undef: BS_UNDEF, mem: true, shape: memShape });
  }
}

// ---- String instructions, with REP/REPE/REPNE and both directions
const SUFFIX: Record<Size, string> = { 8: 'b', 16: 'w', 32: 'd', 64: 'q' };
const stringShape: CaseShaper = (c, rng) => {
  c.gpr[gprIndex('rsi')] = BigInt(DATA_VA + 0x60 + rng.below(16));
  c.gpr[gprIndex('rdi')] = BigInt(DATA_VA + 0xa0 + rng.below(16));
  c.gpr[gprIndex('rcx')] = BigInt(rng.below(11));
  // Make equal runs likely so REPE/REPNE stop at varied places.
  if (rng.below(2)) c.data!.copyWithin(0xa0, 0x60, 0xa0);
  if (rng.below(3) === 0) c.gpr[0] = BigInt(c.data![0x60 + rng.below(8)]) * 0x0101010101010101n;
};
for (const size of SIZES) {
  const s = SUFFIX[size];
  const g = 'string';
  for (const [ins, reps] of [
    [`movs${s}`, ['', 'rep ']], [`stos${s}`, ['', 'rep ']], [`lods${s}`, ['', 'rep ']],
    [`cmps${s}`, ['', 'repe ', 'repne ']], [`scas${s}`, ['', 'repe ', 'repne ']],
  ] as Array<[string, string[]]>) {
    for (const rep of reps) {
      const asmIns = ins === 'movsd' ? 'movsd dword ptr [rdi], dword ptr [rsi]' : ins === 'cmpsd' ? 'cmpsd dword ptr [rsi], dword ptr [rdi]' : ins;
      add({ name: `${rep}${ins}`, group: g, asm: `${rep}${asmIns}`, mem: true, shape: stringShape, weight: rep ? 2 : 1 });
    }
  }
}
add({ name: 'rep movsb (addr32)', group: 'string', asm: 'rep movsb byte ptr [edi], byte ptr [esi]', mem: true, shape: stringShape });
add({ name: 'rep stosq (addr32)', group: 'string', asm: 'rep stosq qword ptr [edi]', mem: true, shape: stringShape });

// ---- Exchange family: XCHG, XADD, CMPXCHG, CMPXCHG8B/16B
for (const size of SIZES) {
  const g = 'xchg';
  const [a, b] = pairs(size)[2];
  add({ name: `xchg r${size}, r${size}`, group: g, asm: `xchg ${a}, ${b}` });
  add({ name: `xchg m${size}, r${size}`, group: g, asm: `xchg ${m(size, 0x30)}, ${reg('rdx', size)}`, mem: true, shape: memShape });
  add({ name: `xadd r${size}, r${size}`, group: g, asm: `xadd ${a}, ${b}`, weight: 2 });
  add({ name: `lock xadd m${size}, r${size}`, group: g, asm: `lock xadd ${m(size, 0x30)}, ${reg('rdx', size)}`, mem: true, shape: memShape });
  // CMPXCHG: make the comparison succeed half of the time.
  const eqShape = (dst: 'reg' | 'mem'): CaseShaper => (c, rng) => {
    if (dst === 'mem') memShape(c, rng);
    if (rng.below(2)) {
      if (dst === 'reg') c.gpr[gprIndex('rsi')] = c.gpr[0];
      else for (let k = 0; k < size / 8; k++) c.data![0x30 + k] = Number((c.gpr[0] >> BigInt(8 * k)) & 0xffn);
    }
  };
  add({ name: `cmpxchg r${size}, r${size}`, group: g, asm: `cmpxchg ${reg('rsi', size)}, ${reg('rdi', size)}`, shape: eqShape('reg'), weight: 2 });
  add({ name: `lock cmpxchg m${size}, r${size}`, group: g, asm: `lock cmpxchg ${m(size, 0x30)}, ${reg('rdi', size)}`, mem: true, shape: eqShape('mem'), weight: 2 });
}
for (const [ins, bytes] of [['cmpxchg8b', 8], ['cmpxchg16b', 16]] as Array<[string, number]>) {
  const hi = bytes === 8 ? 32n : 64n;
  const mask = (1n << hi) - 1n;
  add({
    name: `lock ${ins} m${bytes * 8}`, group: 'xchg', asm: `lock ${ins} ${bytes === 8 ? 'qword' : 'xmmword'} ptr [r15+0x40]`, mem: true, weight: 2,
    shape: seq(memShape, (c, rng) => {
      if (rng.below(2)) {
        const v = new DataView(c.data!.buffer);
        const lo = c.gpr[0] & mask;
        const hiv = c.gpr[2] & mask;
        if (bytes === 8) v.setBigUint64(0x40, (hiv << 32n) | lo, true);
        else {
          v.setBigUint64(0x40, lo, true);
          v.setBigUint64(0x48, hiv, true);
        }
      }
    }),
  });
}

// ---- CMOVcc / SETcc / Jcc, all sixteen conditions
const CONDITIONS = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
for (const cc of CONDITIONS) {
  const g = 'cond';
  for (const size of [16, 32, 64] as Size[]) {
    add({ name: `cmov${cc} r${size}, r${size}`, group: g, asm: `cmov${cc} ${reg('rax', size)}, ${reg('r10', size)}`, weight: size === 32 ? 1 : 0.5 });
  }
  add({ name: `cmov${cc} r64, m64`, group: g, asm: `cmov${cc} rax, ${m(64, 0x10)}`, mem: true, shape: memShape, weight: 0.5 });
  add({ name: `set${cc} r8`, group: g, asm: `set${cc} bl`, weight: 0.5 });
  add({ name: `set${cc} m8`, group: g, asm: `set${cc} ${m(8, 0x11)}`, mem: true, shape: memShape, weight: 0.5 });
  add({ name: `j${cc} rel8`, group: g, asm: `j${cc} 1f; mov eax, 1; 1: nop`, weight: 0.5 });
  add({ name: `j${cc} rel32`, group: g, asm: `j${cc} 1f; .fill 200, 1, 0x90; mov eax, 1; 1: nop`, weight: 0.5 });
}
add({ name: 'jrcxz', group: 'cond', asm: 'jrcxz 1f; mov eax, 1; 1: nop', shape: (c, rng) => { if (rng.below(2)) c.gpr[1] = 0n; } });
add({ name: 'loop', group: 'cond', asm: 'xor eax, eax; 1: inc eax; loop 1b', shape: setReg('rcx', (rng) => BigInt(1 + rng.below(20))) });

// ---- Moves, extensions, conversions, byte swap, LEA
const g5 = 'move';
for (const [src, dsts] of [[8, [16, 32, 64]], [16, [32, 64]]] as Array<[Size, Size[]]>) {
  for (const dst of dsts) {
    add({ name: `movzx r${dst}, r${src}`, group: g5, asm: `movzx ${reg('rax', dst)}, ${reg('r9', src)}` });
    add({ name: `movsx r${dst}, r${src}`, group: g5, asm: `movsx ${reg('rax', dst)}, ${reg('r9', src)}` });
    add({ name: `movsx r${dst}, m${src}`, group: g5, asm: `movsx ${reg('rax', dst)}, ${m(src, 0x77)}`, mem: true, shape: memShape });
  }
}
add({ name: 'movzx r32, ah', group: g5, asm: 'movzx ecx, bh' });
add({ name: 'movsxd r64, r32', group: g5, asm: 'movsxd rax, r9d', weight: 2 });
add({ name: 'movsxd r64, m32', group: g5, asm: `movsxd rax, ${m(32, 0x7c)}`, mem: true, shape: memShape });
for (const size of SIZES) {
  add({ name: `mov r${size}, r${size}`, group: g5, asm: `mov ${reg('r8', size)}, ${reg('rsi', size)}` });
  add({ name: `mov r${size}, imm`, group: g5, asm: `mov ${reg('r8', size)}, ${immFor(size)}` });
  add({ name: `mov m${size}, r${size}`, group: g5, asm: `mov ${m(size, 0x3, true)}, ${reg('rbp', size)}`, mem: true, shape: memShape });
  add({ name: `mov r${size}, m${size}`, group: g5, asm: `mov ${reg('rbp', size)}, ${m(size, 0x5)}`, mem: true, shape: memShape });
}
// Accesses that cross the page boundary in the middle of the data buffer (offset 0x80);
// the guest maps the two pages to distant frames, so each half must be translated.
for (const [name, asm] of [
  ['mov r64, m64 (page-crossing load)', 'mov rax, qword ptr [r15+0x7c]'],
  ['mov m64, r64 (page-crossing store)', 'mov qword ptr [r15+0x7d], rbx'],
  ['mov r16, m16 (page-crossing load)', 'mov cx, word ptr [r15+0x7f]'],
  ['add m32, r32 (page-crossing read-modify-write)', 'add dword ptr [r15+0x7e], ecx'],
  ['xchg m64, r64 (page-crossing)', 'xchg qword ptr [r15+0x79], rdx'],
  ['push/pop across the page boundary', 'push qword ptr [r15+0x7b]; pop qword ptr [r15+0x7a]'],
  ['rep movsq across the page boundary', 'rep movsq'],
]) {
  add({ name, group: g5, asm, mem: true, shape: name.startsWith('rep') ? stringShape : name.startsWith('push') ? (c, rng) => { memShape(c, rng); c.gpr[gprIndex('rsp')] = BigInt(DATA_VA + 0x84); } : memShape });
}
// GS.base = DATA_VA on both sides: segment-override addressing as per-CPU kernel data uses it.
add({ name: 'mov r64, gs:[d32]', group: g5, asm: 'mov rax, qword ptr gs:[0x18]', mem: true });
add({ name: 'add gs:[b+i*8+d8], r32', group: g5, asm: 'add dword ptr gs:[rsi*8+0x20], ecx', mem: true, shape: setReg('rsi', (rng) => BigInt(rng.below(8))) });
add({ name: 'inc gs:[d32] (per-CPU counter)', group: g5, asm: 'inc qword ptr gs:[0x30]', mem: true });
add({ name: 'mov r8, gs:[r15] (register base plus GS.base)', group: g5, asm: 'mov al, byte ptr gs:[r15]', mem: true, shape: setReg('r15', (rng) => BigInt(rng.below(0x100))) });
add({ name: 'mov r64, imm64', group: g5, asm: 'movabs r11, 0x8123456789abcdef' });
add({ name: 'mov m64, imm32 (sign-extended)', group: g5, asm: `mov ${m(64, 0x20)}, -5`, mem: true, shape: memShape });
add({ name: 'mov al, moffs64', group: g5, asm: `movabs al, [${DATA_VA + 0x44}]`, mem: true });
add({ name: 'mov moffs64, rax', group: g5, asm: `movabs [${DATA_VA + 0x44}], rax`, mem: true });
add({ name: 'bswap r32', group: g5, asm: 'bswap r12d' });
add({ name: 'bswap r64', group: g5, asm: 'bswap r12' });
add({ name: 'bswap r32 (legacy reg)', group: g5, asm: 'bswap eax' });
for (const ins of ['cbw', 'cwde', 'cdqe', 'cwd', 'cdq', 'cqo']) add({ name: ins, group: g5, asm: ins, weight: 0.5 });
add({ name: 'lahf/sahf', group: g5, asm: 'lahf; xor ah, 0xd5; sahf' });
add({ name: 'cmc/clc/stc', group: g5, asm: 'cmc; setc bl; stc; setc cl; clc' });
add({ name: 'xlat', group: g5, asm: 'xlatb', mem: true, shape: setReg('rbx', () => BigInt(DATA_VA)) });
const leaForms: Array<[string, string]> = [
  ['lea r64, [b+i*s+d8]', 'lea rax, [rbx+rcx*4+0x12]'],
  ['lea r64, [b+i*8+d32]', 'lea r9, [r13+r14*8-0x12345678]'],
  ['lea r64, [rbp+d8] (no-SIB rbp)', 'lea rdx, [rbp-8]'],
  ['lea r64, [r12] (SIB r12)', 'lea rdx, [r12]'],
  ['lea r64, [r13] (disp8 r13)', 'lea rdx, [r13]'],
  ['lea r64, [i*2+d32] (no base)', 'lea rsi, [rdi*2+0x1000]'],
  ['lea r64, [rip+d32]', 'lea rax, [rip+0x123456]'],
  ['lea r64, [rip-d32]', 'lea rax, [rip-0x10]'],
  ['lea r32, [b+i] (64-bit address, 32-bit result)', 'lea eax, [rbx+rcx]'],
  ['lea r32, [e32 address size]', 'lea eax, [ebx+ecx*2+0x7fffffff]'],
  ['lea r64, [e32 address size]', 'lea rax, [ebx+esi*8-1]'],
  ['lea r16, [b+i]', 'lea ax, [rbx+rdx+0x1234]'],
  ['lea r64, [eip-relative]', 'lea rax, [eip+0x100]'],
];
for (const [name, asm] of leaForms) add({ name, group: 'lea', asm, weight: 2 });
add({ name: 'mov r64, [rip+d32]', group: 'lea', asm: `mov rax, qword ptr [rip+${DATA_VA + 0x20}-${0x2000_0000}-7]`, mem: true });

// ---- Stack: PUSH/POP with registers, memory, immediates; PUSHF/POPF
const stackShape: CaseShaper = (c, rng) => {
  c.gpr[gprIndex('rsp')] = BigInt(DATA_VA + 0x80 + 8 * rng.below(4));
  memShape(c, rng);
};
const STACK: Array<[string, string]> = [
  ['push r64; pop r64', 'push rbx; pop r10'],
  ['push r16; pop r16', 'push bx; pop r10w'],
  ['push imm8; push imm32', 'push -3; push 0x12345678'],
  ['push m64; pop m64', 'push qword ptr [r15+0x10]; pop qword ptr [r15+0x18]'],
  ['push rsp', 'push rsp'],
  ['pop rsp', 'pop rsp'],
  ['pushfq', 'pushfq'],
  ['popfq (arith flags)', 'pushfq; xor qword ptr [rsp], 0x8d5; popfq'],
  ['enter/leave', 'enter 0x20, 0; mov qword ptr [rbp-8], rax; leave'],
  ['call/ret', 'call 1f; jmp 2f; 1: ret; 2: nop'],
  ['ret imm16', 'call 1f; jmp 2f; 1: ret 8; 2: nop'],
];
for (const [name, asm] of STACK) add({ name, group: 'stack', asm, mem: true, shape: stackShape });

// ---- NOP and hint forms compilers and kernels emit, fences, non-temporal stores
const MISC: Array<[string, string, boolean]> = [
  ['nop (90)', 'nop', false],
  ['xchg ax, ax (66 90)', '.byte 0x66, 0x90', false],
  ['nop r/m32 (0F 1F /0)', 'nop dword ptr [rax+rax*1+0x0]', false],
  ['nopw cs:[rax+rax] (66 2E 0F 1F 84)', '.byte 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0', false],
  ['endbr64 (a hint NOP without CET)', 'endbr64', false],
  ['pause', 'pause', false],
  ['cld/std', 'std; mov eax, 1; cld', false],
  ['mfence/lfence/sfence', 'mfence; lfence; sfence', false],
  ['prefetcht0/prefetchnta', 'prefetcht0 [r15+0x40]; prefetchnta [r15]', true],
  ['clflush', 'clflush [r15+0x40]', true],
  ['movnti m32/m64', 'movnti dword ptr [r15+0x44], ebx; movnti qword ptr [r15+0x48], rcx', true],
  // The BCD adjusts do not exist in 64-bit mode (SDM Vol. 2 DAA..AAD: #UD).
  ['daa in 64-bit mode (#UD)', '.byte 0x27', false],
  ['aas in 64-bit mode (#UD)', '.byte 0x3f', false],
  ['aam in 64-bit mode (#UD)', '.byte 0xd4, 0x0a', false],
];
for (const [name, asm, mem] of MISC) add({ name, group: 'misc', asm, mem, shape: mem ? memShape : undefined, weight: 0.5 });

// ---- x87 (SDM Vol. 1 Chapter 8): loads, stores and conversions, rounding control,
// compares, exact operations, and arithmetic with precision control set to double on
// inputs whose results stay in the double exponent range (the software CPU computes in
// float64, so extended precision and extended exponent range are out of scope; see
// src/vm/cpu/x87.ts). Every snippet starts with FNINIT and leaves the stack empty.
// Data layout: doubles at 0x00-0x3f, int16 0x40 (0x42: a small one), int32 0x44, int64 0x48, an 80-bit real
// at 0x50, control words at 0x60 (rounding control as drawn) and 0x64 (PC=double);
// results at 0x80 and up.
/** Edge doubles whose x87 results cannot leave the double exponent range: ±0, ±1, ±inf, quiet NaNs. */
const SAFE_DOUBLE_EDGES: readonly bigint[] = [
  0n, 0x8000000000000000n, 0x3ff0000000000000n, 0xbff0000000000000n, 0x7ff0000000000000n, 0xfff0000000000000n,
  0x7ff8000000000000n, 0xfff8000000000000n,
];
function x87Shape(modest: boolean): CaseShaper {
  return (c, rng) => {
    memShape(c, rng);
    const v = new DataView(c.data!.buffer);
    for (let i = 0; i < 8; i++) {
      const bits = !modest ? interestingXmmQword(rng) : rng.below(8) ? modestDouble(rng) : rng.pick(SAFE_DOUBLE_EDGES);
      v.setBigUint64(8 * i, bits, true);
    }
    // A valid 80-bit real: explicit integer bit set, exponent around the double range.
    v.setBigUint64(0x50, rng.u64() | (1n << 63n), true);
    v.setUint16(0x58, (rng.below(2) << 15) | (0x3fff - 200 + rng.below(400)), true);
    v.setUint16(0x60, 0x37f | (rng.below(4) << 10), true);
    v.setUint16(0x64, 0x27f, true);
    v.setInt16(0x42, rng.below(121) - 60, true); // a scale for FSCALE that keeps doubles in range
  };
}
const X87: Array<[string, string, boolean?]> = [
  ['fld/fstp m64', 'fld qword ptr [r15]; fstp qword ptr [r15+0x80]'],
  ['fld m32; fst m64; fstp m32', 'fld dword ptr [r15+4]; fst qword ptr [r15+0x80]; fstp dword ptr [r15+0x88]'],
  ['fld m64; fstp m80', 'fld qword ptr [r15+8]; fstp tbyte ptr [r15+0x80]'],
  ['fld m80; fstp m64 (rounds)', 'fld tbyte ptr [r15+0x50]; fstp qword ptr [r15+0x80]'],
  ['fild m16/m32/m64; fstp m64', 'fild word ptr [r15+0x40]; fstp qword ptr [r15+0x80]; fild dword ptr [r15+0x44]; fstp qword ptr [r15+0x88]; fild qword ptr [r15+0x48]; fstp qword ptr [r15+0x90]'],
  ['fistp m16/m32/m64 (round to nearest)', 'fld qword ptr [r15]; fistp word ptr [r15+0x80]; fld qword ptr [r15+8]; fistp dword ptr [r15+0x84]; fld qword ptr [r15+0x10]; fistp qword ptr [r15+0x88]'],
  ['fldcw; fistp m64; frndint (all rounding modes)', 'fldcw word ptr [r15+0x60]; fld qword ptr [r15]; fistp qword ptr [r15+0x80]; fld qword ptr [r15+8]; frndint; fstp qword ptr [r15+0x88]; fnstcw word ptr [r15+0x90]'],
  ['fadd/fsub/fsubr m64 (PC=double)', 'fldcw word ptr [r15+0x64]; fld qword ptr [r15]; fadd qword ptr [r15+8]; fst qword ptr [r15+0x80]; fsub qword ptr [r15+0x10]; fst qword ptr [r15+0x88]; fsubr qword ptr [r15+0x18]; fstp qword ptr [r15+0x90]', true],
  ['fmul/fdiv/fdivr m64 (PC=double)', 'fldcw word ptr [r15+0x64]; fld qword ptr [r15]; fmul qword ptr [r15+8]; fst qword ptr [r15+0x80]; fdiv qword ptr [r15+0x10]; fst qword ptr [r15+0x88]; fdivr qword ptr [r15+0x18]; fstp qword ptr [r15+0x90]', true],
  ['faddp/fsubp/fmulp/fdivp st(1) (PC=double)', 'fldcw word ptr [r15+0x64]; fld qword ptr [r15]; fld qword ptr [r15+8]; faddp st(1), st; fld qword ptr [r15+0x10]; fmulp st(1), st; fld qword ptr [r15+0x18]; fdivrp st(1), st; fld qword ptr [r15+0x20]; fsubp st(1), st; fstp qword ptr [r15+0x80]', true],
  ['fsqrt (PC=double)', 'fldcw word ptr [r15+0x64]; fld qword ptr [r15]; fabs; fsqrt; fstp qword ptr [r15+0x80]', true],
  ['fchs/fabs', 'fld qword ptr [r15]; fchs; fstp qword ptr [r15+0x80]; fld qword ptr [r15+8]; fabs; fstp qword ptr [r15+0x88]'],
  ['fcomp m64; fnstsw ax (C0 C2 C3)', 'fld qword ptr [r15]; fcomp qword ptr [r15+8]; fnstsw ax; and eax, 0x4500'],
  ['fucomip (flags)', 'fld qword ptr [r15+8]; fld qword ptr [r15]; fucomip st, st(1); fstp st(0)'],
  ['fcomip (flags)', 'fld qword ptr [r15+8]; fld qword ptr [r15]; fcomip st, st(1); fstp st(0)'],
  ['ftst/fxam; fnstsw ax', 'fld qword ptr [r15]; ftst; fnstsw ax; and eax, 0x4500; fxam; fnstsw ax; and ax, 0x4700; fstp st(0)'],
  ['fld1/fldz/fldpi/fldl2e/fldln2/fldlg2/fldl2t; fstp m64', 'fld1; fstp qword ptr [r15+0x80]; fldz; fstp qword ptr [r15+0x88]; fldpi; fstp qword ptr [r15+0x90]; fldl2e; fstp qword ptr [r15+0x98]; fldln2; fstp qword ptr [r15+0xa0]; fldlg2; fstp qword ptr [r15+0xa8]; fldl2t; fstp qword ptr [r15+0xb0]'],
  ['fxch/fcmovb/fcmove', 'fld qword ptr [r15]; fld qword ptr [r15+8]; fxch; fcmovb st, st(1); fcmove st, st(1); fstp qword ptr [r15+0x80]; fstp qword ptr [r15+0x88]'],
  ['fprem loop (fmod)', 'fld qword ptr [r15+8]; fld qword ptr [r15]; 1: fprem; fnstsw ax; test ah, 4; jnz 1b; fstp qword ptr [r15+0x80]; fstp st(0); and eax, 0x4300', true],
  ['fscale', 'fild word ptr [r15+0x42]; fld qword ptr [r15]; fscale; fstp qword ptr [r15+0x80]; fstp st(0)', true],
  ['fnstsw ax / fnstcw after fninit', 'fnstsw ax; fnstcw word ptr [r15+0x80]'],
];
for (const [name, asm, modest] of X87) {
  add({ name, group: 'x87', asm: `fninit; ${asm}`, mem: true, shape: x87Shape(!!modest), undef: 0 });
}

// ---- SSE2 as gcc-built user space (busybox) uses it
const sse = 'sse2';
const SSE_OPS: Array<[string, string, Undef?]> = [
  ['movdqa xmm, xmm', 'movdqa xmm0, xmm1'],
  ['movdqu xmm, m128', 'movdqu xmm2, xmmword ptr [r15+0x13]'],
  ['movdqu m128, xmm', 'movdqu xmmword ptr [r15+0x23], xmm3'],
  ['movdqa xmm, m128', 'movdqa xmm1, xmmword ptr [r15+0x40]'],
  ['movaps/movups', 'movaps xmm0, xmm2; movups xmm1, xmmword ptr [r15+0x7]'],
  ['movd xmm, r32', 'movd xmm0, ebx'],
  ['movq xmm, r64', 'movq xmm1, rbx'],
  ['movd r32, xmm', 'movd ebx, xmm2'],
  ['movq r64, xmm', 'movq rbx, xmm2'],
  ['movq xmm, xmm', 'movq xmm0, xmm3'],
  ['movq xmm, m64', 'movq xmm0, qword ptr [r15+0x28]'],
  ['movsd xmm, xmm', 'movsd xmm0, xmm1'],
  ['movsd xmm, m64', 'movsd xmm2, qword ptr [r15+0x30]'],
  ['movsd m64, xmm', 'movsd qword ptr [r15+0x30], xmm2'],
  ['movhlps/movlhps', 'movhlps xmm0, xmm1; movlhps xmm2, xmm3'],
  ['pxor', 'pxor xmm0, xmm1'],
  ['pand/pandn/por', 'pand xmm0, xmm1; pandn xmm2, xmm3; por xmm1, xmm2'],
  ['xorps/andps', 'xorps xmm0, xmm1; andps xmm2, xmm3'],
  ['pcmpeqb', 'pcmpeqb xmm0, xmm1'],
  ['pcmpeqb (equal bytes)', 'movdqa xmm1, xmm0; pcmpeqb xmm1, xmm0'],
  ['pcmpeqw/d', 'pcmpeqw xmm0, xmm1; pcmpeqd xmm2, xmm3'],
  ['pcmpgtb/w/d', 'pcmpgtb xmm0, xmm1; pcmpgtw xmm2, xmm3; pcmpgtd xmm1, xmm3'],
  ['pmovmskb', 'pmovmskb eax, xmm0'],
  ['pminub/pmaxub', 'pminub xmm0, xmm1; pmaxub xmm2, xmm3'],
  ['pminsw/pmaxsw', 'pminsw xmm0, xmm1; pmaxsw xmm2, xmm3'],
  ['punpcklbw/hbw', 'punpcklbw xmm0, xmm1; punpckhbw xmm2, xmm3'],
  ['punpcklwd/hwd', 'punpcklwd xmm0, xmm1; punpckhwd xmm2, xmm3'],
  ['punpckldq/hdq', 'punpckldq xmm0, xmm1; punpckhdq xmm2, xmm3'],
  ['punpcklqdq/hqdq', 'punpcklqdq xmm0, xmm1; punpckhqdq xmm2, xmm3'],
  ['pshufd', 'pshufd xmm0, xmm1, 0x1b; pshufd xmm2, xmm3, 0xe4; pshufd xmm3, xmm3, 0'],
  ['pshuflw/pshufhw', 'pshuflw xmm0, xmm1, 0x1b; pshufhw xmm2, xmm3, 0x4e'],
  ['shufps/shufpd', 'shufps xmm0, xmm1, 0x93; shufpd xmm2, xmm3, 1'],
  ['paddb/w/d/q', 'paddb xmm0, xmm1; paddw xmm1, xmm2; paddd xmm2, xmm3; paddq xmm3, xmm0'],
  ['psubb/w/d/q', 'psubb xmm0, xmm1; psubw xmm1, xmm2; psubd xmm2, xmm3; psubq xmm3, xmm0'],
  ['paddusb/psubusb', 'paddusb xmm0, xmm1; psubusb xmm2, xmm3'],
  ['pmullw/pmuludq', 'pmullw xmm0, xmm1; pmuludq xmm2, xmm3'],
  ['psrldq/pslldq', 'psrldq xmm0, 3; pslldq xmm1, 5; psrldq xmm2, 16; pslldq xmm3, 15'],
  ['psrlw/d/q imm', 'psrlw xmm0, 3; psrld xmm1, 17; psrlq xmm2, 63; psrlq xmm3, 64'],
  ['psllw/d/q imm', 'psllw xmm0, 15; pslld xmm1, 1; psllq xmm2, 33; psllw xmm3, 16'],
  ['psraw/d imm', 'psraw xmm0, 3; psrad xmm1, 31; psraw xmm2, 16'],
  ['psrlq xmm, xmm count', 'psrlq xmm0, xmm1; psllq xmm2, xmm3'],
  ['cvtsi2sd r32/r64', 'cvtsi2sd xmm0, ebx; cvtsi2sd xmm1, rcx'],
  ['cvttsd2si r32/r64', 'cvttsd2si eax, xmm0; cvttsd2si rbx, xmm1'],
  ['cvtsd2si r64 (round to nearest)', 'cvtsd2si rax, xmm2'],
  ['cvtsd2ss/cvtss2sd', 'cvtsd2ss xmm0, xmm1; cvtss2sd xmm2, xmm3'],
  ['addsd', 'addsd xmm0, xmm1'],
  ['subsd', 'subsd xmm2, xmm3'],
  ['mulsd', 'mulsd xmm0, xmm1'],
  ['divsd', 'divsd xmm0, xmm1'],
  ['sqrtsd', 'sqrtsd xmm0, xmm1'],
  ['minsd/maxsd', 'minsd xmm0, xmm1; maxsd xmm2, xmm3'],
  ['addpd/mulpd', 'addpd xmm0, xmm1; mulpd xmm2, xmm3'],
  ['addss/mulss/divss', 'addss xmm0, xmm1; mulss xmm2, xmm3; divss xmm1, xmm3'],
  ['ucomisd', 'ucomisd xmm0, xmm1'],
  ['comisd', 'comisd xmm2, xmm3'],
  ['ucomiss', 'ucomiss xmm0, xmm1'],
  ['andpd/xorpd (fabs/neg)', 'andpd xmm0, xmm1; xorpd xmm2, xmm3'],
  ['andnpd/orpd', 'andnpd xmm0, xmm1; orpd xmm2, xmm3'],
  ['movapd/movupd', 'movapd xmm0, xmm1; movupd xmm2, xmmword ptr [r15+0x9]'],
  ['movlpd/movhpd m64', 'movlpd xmm0, qword ptr [r15+0x8]; movhpd xmm1, qword ptr [r15+0x18]; movhpd qword ptr [r15+0x28], xmm2'],
  ['unpcklpd/unpckhpd', 'unpcklpd xmm0, xmm1; unpckhpd xmm2, xmm3'],
  ['unpcklps/unpckhps', 'unpcklps xmm0, xmm1; unpckhps xmm2, xmm3'],
  ['movmskpd/movmskps', 'movmskpd eax, xmm0; movmskps ecx, xmm1'],
  ['subpd/divpd', 'subpd xmm0, xmm1; divpd xmm2, xmm3'],
  ['sqrtpd/sqrtss', 'sqrtpd xmm0, xmm1; sqrtss xmm2, xmm3'],
  ['minpd/maxpd', 'minpd xmm0, xmm1; maxpd xmm2, xmm3'],
  ['minss/maxss/minps', 'minss xmm0, xmm1; maxss xmm2, xmm3; minps xmm1, xmm2'],
  ['cmpsd predicates (eq lt le unord)', 'cmpeqsd xmm0, xmm1; cmpltsd xmm2, xmm3; movapd xmm1, xmm0; cmplesd xmm1, xmm2; cmpunordsd xmm3, xmm0'],
  ['cmpsd predicates (neq nlt nle ord)', 'cmpneqsd xmm0, xmm1; cmpnltsd xmm2, xmm3; cmpnlesd xmm1, xmm2; cmpordsd xmm3, xmm0'],
  ['cmppd/cmpps', 'cmpltpd xmm0, xmm1; cmpleps xmm2, xmm3'],
  ['comisd/ucomiss m', 'comisd xmm0, qword ptr [r15+0x10]; setb al; seta bl; setp cl; ucomiss xmm1, dword ptr [r15+0x14]'],
  ['cvtps2pd/cvtpd2ps', 'cvtps2pd xmm0, xmm1; cvtpd2ps xmm2, xmm3'],
  ['cvtdq2pd/cvtdq2ps', 'cvtdq2pd xmm0, xmm1; cvtdq2ps xmm2, xmm3'],
  ['cvttpd2dq/cvttps2dq', 'cvttpd2dq xmm0, xmm1; cvttps2dq xmm2, xmm3'],
  ['cvtpd2dq/cvtps2dq', 'cvtpd2dq xmm0, xmm1; cvtps2dq xmm2, xmm3'],
  ['cvtsi2ss/cvttss2si/cvtss2si', 'cvtsi2ss xmm0, rbx; cvtsi2ss xmm1, ecx; cvttss2si eax, xmm2; cvtss2si rdx, xmm3'],
  ['cvtsi2sd m64 / cvttsd2si m64', 'cvtsi2sd xmm0, qword ptr [r15+0x20]; cvttsd2si rax, qword ptr [r15+0x28]'],
  ['psadbw', 'psadbw xmm0, xmm1'],
  ['pavgb/pavgw', 'pavgb xmm0, xmm1; pavgw xmm2, xmm3'],
  ['pmulhw/pmulhuw/pmaddwd', 'pmulhw xmm0, xmm1; pmulhuw xmm2, xmm3; pmaddwd xmm1, xmm3'],
  ['packsswb/packuswb/packssdw', 'packsswb xmm0, xmm1; packuswb xmm2, xmm3; packssdw xmm1, xmm0'],
  ['paddsb/paddsw/psubsb/psubsw', 'paddsb xmm0, xmm1; paddsw xmm1, xmm2; psubsb xmm2, xmm3; psubsw xmm3, xmm0'],
  ['paddusw/psubusw', 'paddusw xmm0, xmm1; psubusw xmm2, xmm3'],
  ['pinsrw/pextrw', 'pinsrw xmm0, ebx, 3; pextrw eax, xmm1, 6; pinsrw xmm2, word ptr [r15+0x2], 0'],
  ['psllw/pslld/psrad xmm count', 'psllw xmm0, xmm1; pslld xmm2, xmm3; psrad xmm1, xmm3; psraw xmm3, xmm2'],
  ['pand/por m128 (aligned)', 'pand xmm0, xmmword ptr [r15+0x20]; por xmm1, xmmword ptr [r15+0x30]'],
  ['movntdq/movntpd m128', 'movntdq xmmword ptr [r15+0x40], xmm0; movntpd xmmword ptr [r15+0x50], xmm1'],
  ['movd xmm, m32 / movd m32, xmm', 'movd xmm0, dword ptr [r15+0x3]; movd dword ptr [r15+0x11], xmm1'],
  ['movdqu across the page boundary', 'movdqu xmm0, xmmword ptr [r15+0x77]; movdqu xmmword ptr [r15+0x79], xmm1'],
];
// int64 -> float32 must round once (SDM Vol. 1 §4.8.4): values just above a float32 tie
// whose excess lies below double precision catch a conversion through float64.
function doubleRoundingTrap(rng: Rng): bigint {
  const mantissa = BigInt((1 << 23) | rng.below(1 << 23));
  const tail = BigInt(1 + rng.below(1023));
  const v = (mantissa << 39n) | (1n << 38n) | tail;
  return rng.below(2) ? BigInt.asUintN(64, -v) : v;
}
add({
  name: 'cvtsi2ss r64 (double-rounding trap)', group: 'sse2', sse: true, asm: 'cvtsi2ss xmm0, rbx; cvtsi2ss xmm1, rcx', weight: 2,
  shape: (c, rng) => {
    c.gpr[gprIndex('rbx')] = doubleRoundingTrap(rng);
    c.gpr[gprIndex('rcx')] = doubleRoundingTrap(rng);
  },
});
add({
  name: 'fild m64; fstp m32 (double-rounding trap)', group: 'x87', mem: true, asm: 'fninit; fild qword ptr [r15+0x48]; fstp dword ptr [r15+0x80]', weight: 2,
  shape: (c, rng) => {
    memShape(c, rng);
    new DataView(c.data!.buffer).setBigUint64(0x48, doubleRoundingTrap(rng), true);
  },
});

add({
  name: 'fld m80; fstp m32 (double-rounding trap)', group: 'x87', mem: true, asm: 'fninit; fld tbyte ptr [r15+0x50]; fstp dword ptr [r15+0x80]', weight: 2,
  shape: (c, rng) => {
    memShape(c, rng);
    const v = new DataView(c.data!.buffer);
    const m = doubleRoundingTrap(rng);
    const magnitude = m >> 63n ? BigInt.asUintN(64, -m) : m; // top bit 62
    v.setBigUint64(0x50, magnitude << 1n, true); // explicit integer bit 63 set, tie at float32 precision
    v.setUint16(0x58, (rng.below(2) << 15) | (0x3fff - 60 + rng.below(120)), true);
  },
});

// MXCSR (SDM Vol. 1 §10.2.3): rounding control, FTZ and DAZ drawn at random with all
// exceptions masked; the status flags each operation raises are compared via STMXCSR.
const mxcsrShape: CaseShaper = (c, rng) => {
  memShape(c, rng);
  const v = new DataView(c.data!.buffer);
  v.setUint32(0x60, 0x1f80 | (rng.below(4) << 13) | (rng.below(2) << 15) | (rng.below(2) << 6), true);
  v.setUint32(0x68, 0x1f80, true);
};
for (const [name, ops] of [
  ['ldmxcsr/stmxcsr with addsd/mulsd/divsd', 'addsd xmm0, xmm1; mulsd xmm2, xmm3; divsd xmm1, xmm2'],
  ['ldmxcsr/stmxcsr with cvtsd2si/cvtsd2ss/sqrtsd', 'cvtsd2si rax, xmm0; cvtsd2ss xmm1, xmm1; sqrtsd xmm2, xmm3'],
  ['ldmxcsr/stmxcsr with addps/mulps/cvtps2dq', 'addps xmm0, xmm1; mulps xmm2, xmm3; cvtps2dq xmm1, xmm0'],
  ['ldmxcsr/stmxcsr with ucomisd/comisd', 'ucomisd xmm0, xmm1; comisd xmm2, xmm3'],
  ['ldmxcsr/stmxcsr with subss/divss/sqrtss', 'subss xmm0, xmm1; divss xmm2, xmm3; sqrtss xmm1, xmm2'],
  ['ldmxcsr/stmxcsr with subpd/divpd/sqrtpd', 'subpd xmm0, xmm1; divpd xmm2, xmm3; sqrtpd xmm1, xmm2'],
  ['ldmxcsr/stmxcsr with minsd/maxps/cmpltsd/cmpeqps/comiss', 'minsd xmm0, xmm1; maxps xmm2, xmm3; cmpltsd xmm1, xmm3; cmpeqps xmm3, xmm0; comiss xmm2, xmm1'],
  ['ldmxcsr/stmxcsr with cvtsi2sd/cvtsi2ss r64, cvtdq2ps', 'cvtsi2sd xmm0, rbx; cvtsi2ss xmm1, rcx; cvtsi2ss xmm2, edx; cvtdq2ps xmm3, xmm3'],
  ['ldmxcsr/stmxcsr with cvttsd2si/cvttps2dq/cvtpd2dq', 'cvttsd2si eax, xmm0; cvttps2dq xmm1, xmm1; cvtpd2dq xmm2, xmm2; cvtss2si rbx, xmm3'],
  ['ldmxcsr/stmxcsr with cvtps2pd/cvtpd2ps/cvtss2sd', 'cvtps2pd xmm0, xmm1; cvtpd2ps xmm1, xmm2; cvtss2sd xmm2, xmm3'],
]) {
  // Results under the drawn RC/FTZ/DAZ (the stored status flags are cleared before comparing)...
  add({
    name: `${name} (results)`, group: 'sse2', sse: true, mem: true, weight: 4, shape: mxcsrShape,
    asm: `ldmxcsr dword ptr [r15+0x60]; ${ops}; stmxcsr dword ptr [r15+0x64]; and dword ptr [r15+0x64], 0xffc0; ldmxcsr dword ptr [r15+0x68]`,
  });
  // ...and the exception status flags (IE DE ZE OE UE PE) the operations raise.
  add({
    name: `${name} (status flags)`, group: 'sse2', sse: true, mem: true, weight: 2, shape: mxcsrShape,
    asm: `ldmxcsr dword ptr [r15+0x60]; ${ops}; stmxcsr dword ptr [r15+0x64]; ldmxcsr dword ptr [r15+0x68]`,
  });
}
add({
  name: 'maskmovdqu target', group: 'sse2', sse: true, mem: true, asm: 'maskmovdqu xmm0, xmm1', weight: 2,
  shape: (c, rng) => { memShape(c, rng); c.gpr[gprIndex('rdi')] = BigInt(DATA_VA + rng.below(0xf0)); },
});
for (const [name, asm, undef] of SSE_OPS) {
  const usesMem = asm.includes('[r15');
  add({ name, group: sse, asm, sse: true, undef, mem: usesMem, shape: usesMem ? memShape : undefined, weight: 3 });
}

// ---- MMX (SDM Vol. 1 Chapter 9) and SSE's MMX extensions: operands come from the data
// buffer (quadwords at 0x00-0x5f), results go back to it at 0x80 and up, and every
// snippet ends with EMMS. The x87 view of the registers (TOP, tags, the 80-bit images)
// is compared through FNSTSW/FNSTENV/FXSAVE and FSTP m80.
/** Lane-edge quadwords: each byte or word drawn from the saturation boundaries. */
function mmxQword(rng: Rng): bigint {
  const r = rng.below(4);
  if (r === 0) return interesting64(rng);
  if (r === 1) return rng.u64();
  let v = 0n;
  if (r === 2) for (let k = 0; k < 8; k++) v |= BigInt(rng.pick([0, 1, 0x7f, 0x80, 0x81, 0xfe, 0xff, rng.below(256)])) << BigInt(8 * k);
  else for (let k = 0; k < 4; k++) v |= BigInt(rng.pick([0, 1, 0x7fff, 0x8000, 0x8001, 0xffff, 0x00ff, 0xff00, rng.below(65536)])) << BigInt(16 * k);
  return v;
}
/** `countAt` holds a shift count (0-70) at that offset half of the time. */
function mmxShape(countAt?: number): CaseShaper {
  return (c, rng) => {
    memShape(c, rng);
    const v = new DataView(c.data!.buffer);
    for (let q = 0; q < 12; q++) v.setBigUint64(8 * q, mmxQword(rng), true);
    if (countAt !== undefined && rng.below(2)) v.setBigUint64(countAt, BigInt(rng.below(71)), true);
  };
}
const MMX_LOAD = 'movq mm0, qword ptr [r15]; movq mm1, qword ptr [r15+8]; movq mm2, qword ptr [r15+0x10]';
const MMX_STORE = 'movq qword ptr [r15+0x80], mm0; movq qword ptr [r15+0x88], mm1; movq qword ptr [r15+0x90], mm2; emms';
const MMX_BINARY = [
  'paddb', 'paddw', 'paddd', 'paddq', 'psubb', 'psubw', 'psubd', 'psubq', 'paddsb', 'paddsw', 'paddusb', 'paddusw',
  'psubsb', 'psubsw', 'psubusb', 'psubusw', 'pcmpeqb', 'pcmpeqw', 'pcmpeqd', 'pcmpgtb', 'pcmpgtw', 'pcmpgtd',
  'pmullw', 'pmulhw', 'pmulhuw', 'pmuludq', 'pmaddwd', 'pand', 'pandn', 'por', 'pxor',
  'packsswb', 'packssdw', 'packuswb', 'punpcklbw', 'punpcklwd', 'punpckldq', 'punpckhbw', 'punpckhwd', 'punpckhdq',
  'pavgb', 'pavgw', 'pminub', 'pmaxub', 'pminsw', 'pmaxsw', 'psadbw',
];
for (const op of MMX_BINARY) {
  add({
    name: `${op} mm, mm/m64`, group: 'mmx', mem: true, shape: mmxShape(), weight: 0.5,
    // The low unpacks read only 32 bits of memory (SDM Vol. 2 PUNPCKLBW: mm/m32).
    asm: `${MMX_LOAD}; ${op} mm0, mm1; ${op} mm2, ${op.startsWith('punpckl') ? 'dword' : 'qword'} ptr [r15+0x41]; ${op} mm1, mm1; ${MMX_STORE}`,
  });
}
for (const op of ['psrlw', 'psrld', 'psrlq', 'psraw', 'psrad', 'psllw', 'pslld', 'psllq']) {
  add({
    name: `${op} mm, mm/m64 count`, group: 'mmx', mem: true, shape: mmxShape(8), weight: 0.5,
    asm: `${MMX_LOAD}; ${op} mm0, mm1; ${op} mm2, qword ptr [r15+8]; ${MMX_STORE}`,
  });
  const counts = op.endsWith('w') ? [0, 1, 7, 15, 16, 200] : op.endsWith('d') ? [0, 3, 31, 32, 255] : [0, 1, 33, 63, 64];
  add({
    name: `${op} mm, imm8`, group: 'mmx', mem: true, shape: mmxShape(), weight: 0.3,
    asm: `${MMX_LOAD}; ${op} mm0, ${counts[1]}; ${op} mm1, ${counts[2]}; ${op} mm2, ${counts[3]}; ${MMX_STORE}; movq mm3, qword ptr [r15+0x18]; ${op} mm3, ${counts[4]}; movq qword ptr [r15+0x98], mm3; emms`,
  });
}
const MMX_MISC: Array<[string, string, CaseShaper?, boolean?]> = [
  ['movd mm, r32 / movd r32, mm', 'movd mm0, ebx; movd mm1, dword ptr [r15+0x3]; movq qword ptr [r15+0x80], mm0; movq qword ptr [r15+0x88], mm1; movq mm2, qword ptr [r15+0x10]; movd ecx, mm2; movd dword ptr [r15+0x91], mm2; emms'],
  ['movq mm, r64 / movq r64, mm', 'movq mm0, rbx; movq qword ptr [r15+0x80], mm0; movq mm1, qword ptr [r15+0x8]; movq rcx, mm1; movq mm2, mm1; movq mm3, mm2; movq qword ptr [r15+0x88], mm3; emms'],
  ['movq mm, m64 / movq m64, mm (page-crossing)', 'movq mm5, qword ptr [r15+0x7b]; movq qword ptr [r15+0x7d], mm5; emms'],
  ['movntq m64, mm', 'movq mm6, qword ptr [r15+0x20]; movntq qword ptr [r15+0x90], mm6; emms'],
  ['pshufw', `${MMX_LOAD}; pshufw mm0, mm1, 0x1b; pshufw mm1, mm1, 0xe4; pshufw mm2, qword ptr [r15+0x44], 0x93; ${MMX_STORE}`],
  ['pinsrw/pextrw mm', `${MMX_LOAD}; pinsrw mm0, ebx, 1; pinsrw mm1, word ptr [r15+0x47], 7; pextrw eax, mm2, 2; pextrw ecx, mm0, 5; ${MMX_STORE}`],
  ['pmovmskb r32, mm', `${MMX_LOAD}; pmovmskb eax, mm0; pmovmskb r9d, mm2; emms`],
  ['maskmovq', `${MMX_LOAD}; maskmovq mm0, mm1; emms`, (c, rng) => { mmxShape()(c, rng); c.gpr[gprIndex('rdi')] = BigInt(DATA_VA + 0x60 + rng.below(0x98)); }],
  // The x87 view: TOP = 0 and all tags valid after an MMX instruction, all empty after EMMS;
  // an MMX write makes the register's exponent all ones (special to FNSTENV's tag word).
  ['MMX state: FNSTSW TOP and FNSTENV tags around movd and emms',
    'movq mm0, qword ptr [r15]; movq mm1, qword ptr [r15+8]; movq mm2, qword ptr [r15+0x10]; movq mm3, qword ptr [r15+0x18]; ' +
    'movq mm4, qword ptr [r15+0x20]; movq mm5, qword ptr [r15+0x28]; movq mm6, qword ptr [r15+0x30]; movq mm7, qword ptr [r15+0x38]; ' +
    'fninit; fld1; fldz; fldpi; fnstsw ax; movd mm3, ebx; fnstsw word ptr [r15+0xc0]; fnstenv [r15+0x80]; mov dx, word ptr [r15+0x88]; ' +
    'emms; fnstenv [r15+0xa0]; mov si, word ptr [r15+0xa8]; fnstsw word ptr [r15+0xc2]; ' +
    'xor r8d, r8d; mov qword ptr [r15+0x80], r8; mov qword ptr [r15+0x88], r8; mov qword ptr [r15+0x90], r8; mov qword ptr [r15+0x98], r8; ' +
    'mov qword ptr [r15+0xa0], r8; mov qword ptr [r15+0xa8], r8; mov qword ptr [r15+0xb0], r8; mov qword ptr [r15+0xb8], r8'],
  ['MMX reads an x87 register (mantissa of fld m64)', 'fninit; fld qword ptr [r15]; movq qword ptr [r15+0x80], mm7; fld1; movq qword ptr [r15+0x88], mm6; emms',
    (c, rng) => { memShape(c, rng); new DataView(c.data!.buffer).setBigUint64(0, interestingXmmQword(rng), true); }],
  ['x87 stores an MMX register (fstp m80: exponent all ones)', 'movq mm0, qword ptr [r15]; movq mm1, qword ptr [r15+8]; fstp tbyte ptr [r15+0x80]; fstp tbyte ptr [r15+0x90]; fninit'],
  ['FXSAVE/FXRSTOR keep MMX registers, TOP and tags',
    'lea rax, [rsp-0x300]; and rax, -16; movq mm0, qword ptr [r15]; movq mm1, qword ptr [r15+8]; movq mm7, qword ptr [r15+0x38]; ' +
    'fxsave [rax]; movzx ecx, byte ptr [rax+4]; movzx edx, word ptr [rax+2]; pxor mm0, mm0; pxor mm7, mm7; emms; fld1; fxrstor [rax]; ' +
    'movq qword ptr [r15+0x80], mm0; movq qword ptr [r15+0x88], mm1; movq qword ptr [r15+0x90], mm7; fxsave [rax]; movzx esi, byte ptr [rax+4]; movzx edi, word ptr [rax+2]; emms; xor eax, eax'],
  ['movq2dq/movdq2q', `${MMX_LOAD}; movq2dq xmm0, mm1; movdq2q mm2, xmm1; movq2dq xmm2, mm2; ${MMX_STORE}`, undefined, true],
  ['cvtpi2ps/cvtpi2pd', `${MMX_LOAD}; cvtpi2ps xmm0, mm0; cvtpi2pd xmm1, mm1; cvtpi2ps xmm2, qword ptr [r15+0x48]; cvtpi2pd xmm3, qword ptr [r15+0x50]; emms`, undefined, true],
  ['cvtps2pi/cvttps2pi/cvtpd2pi/cvttpd2pi', `cvtps2pi mm0, xmm0; cvttps2pi mm1, xmm1; cvtpd2pi mm2, xmm2; cvttpd2pi mm3, xmm3; ${MMX_STORE}; movq qword ptr [r15+0x98], mm3; cvtps2pi mm4, qword ptr [r15+0x8]; cvttpd2pi mm5, xmmword ptr [r15+0x10]; movq qword ptr [r15+0xa0], mm4; movq qword ptr [r15+0xa8], mm5; emms`, undefined, true],
];
for (const [name, asm, shape, sseForm] of MMX_MISC) {
  add({ name, group: 'mmx', asm, mem: true, sse: sseForm, shape: shape ?? mmxShape() });
}

// ---- 32-bit code (compatibility mode): the 686 kernel and 32-bit user space. Forms that
// exist only outside 64-bit mode (one-byte INC/DEC, PUSHA/POPA, BCD, INTO, 16-bit
// addressing) and the common ones in their 32-bit encodings.
const g32 = 'compat32';
const mem32: CaseShaper = (c, rng) => {
  c.gpr[gprIndex('rbx')] = BigInt(DATA_VA);
  c.gpr[gprIndex('rsi')] = BigInt(rng.below(8));
};
const stack32: CaseShaper = (c, rng) => {
  mem32(c, rng);
  c.gpr[gprIndex('rsp')] = BigInt(DATA_VA + 0x80 + 4 * rng.below(8));
};
const PAIRS32: Record<8 | 16 | 32, Array<[string, string]>> = {
  8: [['al', 'cl'], ['ah', 'dl'], ['dh', 'dh']],
  16: [['ax', 'cx'], ['si', 'di']],
  32: [['eax', 'ecx'], ['edx', 'edi'], ['ebp', 'ebp']],
};
function add32(f: Omit<Form, 'group' | 'bits'>): void {
  add({ ...f, name: `[32-bit] ${f.name}`, group: g32, bits: 32 });
}
for (const op of ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp', 'test']) {
  const undef = ['or', 'and', 'xor', 'test'].includes(op) ? AF : 0;
  for (const size of [8, 16, 32] as const) {
    PAIRS32[size].forEach(([a, b], i) => add32({ name: `${op} r${size}, r${size} (${a},${b})`, asm: `${op} ${a}, ${b}`, undef, weight: i === 0 ? 2 : 0.5 }));
    const a = PAIRS32[size][0][0];
    add32({ name: `${op} r${size}, imm`, asm: `${op} ${a}, ${immFor(size)}`, undef, weight: 0.5 });
    add32({ name: `${op} m${size}, r${size}`, asm: `${op} ${PTR[size]} [ebx+esi*4+0x10], ${a}`, undef, mem: true, shape: mem32, weight: 0.5 });
    if (op !== 'test') add32({ name: `${op} r${size}, m${size} (absolute)`, asm: `${op} ${a}, ${PTR[size]} [${DATA_VA + 0x31}]`, undef, mem: true, weight: 0.5 });
  }
}
add32({ name: 'inc/dec r32 (40+r, 48+r)', asm: 'inc eax; dec ecx; inc esi; dec edi', weight: 2 });
add32({ name: 'inc/dec r16 (66 40+r)', asm: 'inc ax; dec dx', weight: 2 });
add32({ name: 'neg/not r32', asm: 'neg ebx; not edx' });
// BCD (SDM Vol. 2 DAA/DAS: OF undefined; AAA/AAS: OF SF ZF PF; AAM/AAD: OF AF CF).
add32({ name: 'daa', asm: 'daa', undef: OF, weight: 3 });
add32({ name: 'das', asm: 'das', undef: OF, weight: 3 });
add32({ name: 'aaa', asm: 'aaa', undef: OF | SF | ZF | PF, weight: 3 });
add32({ name: 'aas', asm: 'aas', undef: OF | SF | ZF | PF, weight: 3 });
add32({ name: 'aam', asm: 'aam', undef: OF | AF | CF, weight: 2 });
add32({ name: 'aam 7', asm: 'aam 7', undef: OF | AF | CF });
add32({ name: 'aam 0 (#DE)', asm: 'aam 0', undef: OF | AF | CF, weight: 0.25 });
add32({ name: 'aad', asm: 'aad', undef: OF | AF | CF, weight: 2 });
add32({ name: 'aad 3', asm: 'aad 3', undef: OF | AF | CF });
add32({ name: 'into', asm: 'into', weight: 0.5 });
add32({ name: 'pushad; popad', asm: 'pushad; popad', mem: true, shape: stack32 });
add32({ name: 'pushad', asm: 'pushad', mem: true, shape: stack32 });
add32({ name: 'pushaw; popaw', asm: 'pushaw; popaw', mem: true, shape: stack32 });
add32({ name: 'push/pop r32, imm, m32', asm: 'push ebx; push 0x12345678; push dword ptr [ebx+8]; pop ecx; pop eax; pop edx', mem: true, shape: stack32 });
add32({ name: 'push/pop r16', asm: 'push si; pop di', mem: true, shape: stack32 });
add32({ name: 'pushfd/popfd', asm: 'pushfd; xor dword ptr [esp], 0x8d5; popfd', mem: true, shape: stack32 });
add32({ name: 'call/ret near32', asm: 'call 1f; jmp 2f; 1: ret; 2: nop', mem: true, shape: stack32 });
add32({ name: 'enter/leave', asm: 'enter 8, 0; mov dword ptr [ebp-4], eax; leave', mem: true, shape: stack32 });
for (const op of ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sar']) {
  for (const [r, size] of [['ebx', 32], ['bl', 8], ['bx', 16]] as Array<[string, Size]>) {
    add32({
      name: `${op} r${size}, cl`, asm: `${op} ${r}, cl`,
      undef: (c) => shiftUndef(op, size, Number(c.gpr[1] & 0xffn)),
      shape: setReg('rcx', (rng) => BigInt(rng.pick(SHIFT_COUNTS))),
    });
  }
}
for (const op of ['shld', 'shrd']) {
  add32({ name: `${op} r32, r32, cl`, asm: `${op} edi, esi, cl`, undef: (c) => shldUndef(32, Number(c.gpr[1] & 0xffn)), shape: setReg('rcx', (rng) => BigInt(rng.pick(SHIFT_COUNTS))) });
}
for (const size of [8, 32] as const) {
  const r = size === 8 ? 'bl' : 'ebx';
  add32({ name: `mul/imul r${size}`, asm: `mul ${r}`, undef: MUL_UNDEF });
  add32({ name: `imul r${size} (one operand)`, asm: `imul ${r}`, undef: MUL_UNDEF });
  for (const op of ['div', 'idiv']) add32({ name: `${op} r${size}`, asm: `${op} ${r}`, undef: ARITH_FLAGS, weight: 2, shape: divShape(op === 'idiv', size, 'rbx') });
}
add32({ name: 'imul r32, r32, imm', asm: 'imul edx, esi, -0x789abcdf', undef: MUL_UNDEF });
for (const [name, asm] of [
  ['rep movsd', 'rep movsd dword ptr [edi], dword ptr [esi]'], ['rep stosb', 'rep stosb'], ['repe cmpsb', 'repe cmpsb'],
  ['repne scasd', 'repne scasd'], ['lodsw', 'lodsw'],
]) add32({ name, asm, mem: true, shape: stringShape });
// With a 16-bit address size REP counts with CX alone: ECX = n << 16 must do nothing (the
// pointers, SI and DI, would leave the buffer, so no iteration may run).
add32({ name: 'rep movsw (addr16: CX is the count)', asm: 'rep movsw word ptr es:[di], word ptr [si]', mem: true,
  shape: seq(stringShape, setReg('rcx', (rng) => BigInt(1 + rng.below(0xffff)) << 16n)) });
for (const [name, asm] of [
  ['lea r16, [bx+si+d8] (16-bit addressing)', 'lea ax, [bx+si+0x12]'],
  ['lea r32, [bp+di-d8] (16-bit addressing)', 'lea eax, [bp+di-3]'],
  ['lea r16, [d16] (16-bit addressing)', 'lea cx, [0x8123]'],
  ['lea r32, [b+i*4+d32]', 'lea eax, [ebx+ecx*4+0x12345678]'],
  ['lea r32, [ebp+d8]', 'lea edx, [ebp+0x7f]'],
]) add32({ name, asm });
add32({ name: 'movzx/movsx r32', asm: 'movzx eax, bl; movsx ecx, dx; movsx edx, ah' });
add32({ name: 'cbw/cwde/cwd/cdq', asm: 'cbw; cwde; cwd; cdq' });
add32({ name: 'bswap r32', asm: 'bswap esi' });
add32({ name: 'xchg/xadd r32', asm: 'xchg eax, ebx; xadd ecx, edx' });
add32({ name: 'lock cmpxchg8b m64', asm: 'lock cmpxchg8b qword ptr [ebx+0x40]', mem: true, shape: seq(mem32, (c, rng) => {
  if (rng.below(2)) {
    const v = new DataView(c.data!.buffer);
    v.setUint32(0x40, Number(c.gpr[0] & 0xffffffffn), true);
    v.setUint32(0x44, Number(c.gpr[2] & 0xffffffffn), true);
  }
}) });
add32({ name: 'setcc/cmovcc', asm: 'setl al; setbe ah; cmovg ecx, edx; cmovp esi, edi', weight: 2 });
add32({ name: 'jecxz/loop', asm: 'xor eax, eax; jecxz 2f; 1: inc eax; loop 1b; 2: nop', shape: setReg('rcx', (rng) => BigInt(rng.below(12))) });
add32({ name: 'lahf/sahf', asm: 'lahf; xor ah, 0xd5; sahf' });
add32({ name: 'bt/bts r32 and bsf/bsr', asm: 'bt eax, ecx; bts edx, ecx; bsf esi, edi; bsr edi, ebx', undef: BS_UNDEF });

export const FORMS: readonly Form[] = forms;

export function undefMask(f: Form, c: CaseInput): number {
  return typeof f.undef === 'function' ? f.undef(c) : f.undef ?? 0;
}
