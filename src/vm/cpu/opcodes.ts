// The opcode table (Intel SDM Vol. 2 Appendix A, opcode maps): one entry per opcode (or
// opcode + mandatory prefix for SIMD forms), with the SDM mnemonic and operands in the
// opcode-map notation (E/G/I/J/M/O/Z addressing, b/w/d/q/v/z/y sizes). The decoder derives
// from the operand string whether a ModRM byte and which immediates follow; `group`
// entries are selected by ModRM.reg. The differential tests read the same table.
// Opcodes absent here raise an "unimplemented" exit naming the bytes; entries present
// with no exec are invalid in the mode (e.g. #UD opcodes).

import {
  aad, aam, aluAI, aluEG, asciiAdjust, decimalAdjust, aluEI, aluGE, cbw, cmpxchg, cmpxchg8b, cwd, divE, imulGE, incDecE, incDecZ, mulE, negE, notE,
  shiftDouble, shiftGroup, testEG, testEI, xadd,
} from './exec-alu.js';
import {
  bitScan, bitTest, bswap, cmov, enter, flagOp, lahf, lea, leave, loadFarPointer, movEG, movEI, movESreg, movGE,
  movMoffs, movSregE, movsxd, movx, movZI, nop, popa, popE, popf, popSeg, popZ, pusha, pushE, pushf, pushI,
  pushSeg, pushZ, sahf, setcc, xchgAZ, xchgEG, xlat,
} from './exec-move.js';
import {
  callE, callFar, callRel, int, iret, jcc, jmpE, jmpFar, jmpRel, loop, ret, retFar, syscall, sysenter, sysexit, sysret,
} from './exec-control.js';
import { cmps, ins, lods, movs, outs, scas, stos } from './exec-string.js';
import {
  cli, clts, cpuidInsn, fwait, group7Reg, hlt, inPort, invlpg, larLsl, ldt, lmsw, loadSystemSelector, movDr, movFromCr,
  movToCr, outPort, rdmsr, rdpmc, rdtsc, sdt, smsw, sti, storeSystemSelector, ud, verrVerw, wbinvd, wrmsr,
} from './exec-system.js';
import { SIMD_OPCODES } from './sse-opcodes.js';
import { X87_OPCODES } from './x87-opcodes.js';
import type { Handler } from './insn.js';

export interface GroupEntry {
  mnemonic: string;
  operands?: string;
  exec?: Handler;
  sub?: number;
  d64?: boolean;
  f64?: boolean;
}

export interface OpcodeSpec {
  /** 0x00-0xFF, 0x0F00-0x0FFF, 0x0F3800-0x0F38FF, 0x0F3A00-0x0F3AFF. */
  opcode: number;
  mnemonic: string;
  operands: string;
  exec?: Handler;
  sub?: number;
  /** Mandatory SIMD prefix (0x66, 0xF3, 0xF2). */
  prefix?: number;
  /** Defaults to 64-bit operand size in 64-bit mode (stack, near branches). */
  d64?: boolean;
  /** Always 64-bit in 64-bit mode (Jcc, MOV CR/DR). */
  f64?: boolean;
  group?: readonly (GroupEntry | undefined)[];
  /** An SSE form: other prefixes do not fall back to it (they select other instructions). */
  simd?: boolean;
}

const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
const CC = ['o', 'no', 'b', 'nb', 'z', 'nz', 'be', 'nbe', 's', 'ns', 'p', 'np', 'l', 'nl', 'le', 'nle'];
const SHIFTS = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'];

function one(): OpcodeSpec[] {
  const t: OpcodeSpec[] = [];
  ALU.forEach((m, op) => {
    const b = op * 8;
    t.push({ opcode: b, mnemonic: m, operands: 'Eb,Gb', exec: aluEG, sub: op });
    t.push({ opcode: b + 1, mnemonic: m, operands: 'Ev,Gv', exec: aluEG, sub: op });
    t.push({ opcode: b + 2, mnemonic: m, operands: 'Gb,Eb', exec: aluGE, sub: op });
    t.push({ opcode: b + 3, mnemonic: m, operands: 'Gv,Ev', exec: aluGE, sub: op });
    t.push({ opcode: b + 4, mnemonic: m, operands: 'AL,Ib', exec: aluAI, sub: op });
    t.push({ opcode: b + 5, mnemonic: m, operands: 'rAX,Iz', exec: aluAI, sub: op });
  });
  t.push({ opcode: 0x06, mnemonic: 'push es', operands: '', exec: pushSeg, sub: 0 });
  t.push({ opcode: 0x07, mnemonic: 'pop es', operands: '', exec: popSeg, sub: 0 });
  t.push({ opcode: 0x0e, mnemonic: 'push cs', operands: '', exec: pushSeg, sub: 1 });
  t.push({ opcode: 0x16, mnemonic: 'push ss', operands: '', exec: pushSeg, sub: 2 });
  t.push({ opcode: 0x17, mnemonic: 'pop ss', operands: '', exec: popSeg, sub: 2 });
  t.push({ opcode: 0x1e, mnemonic: 'push ds', operands: '', exec: pushSeg, sub: 3 });
  t.push({ opcode: 0x1f, mnemonic: 'pop ds', operands: '', exec: popSeg, sub: 3 });
  for (let r = 0; r < 8; r++) {
    // 40-4F are REX prefixes in 64-bit mode; the decoder never reaches these entries there.
    t.push({ opcode: 0x40 + r, mnemonic: 'inc', operands: 'Zv', exec: incDecZ, sub: 0 });
    t.push({ opcode: 0x48 + r, mnemonic: 'dec', operands: 'Zv', exec: incDecZ, sub: 1 });
    t.push({ opcode: 0x50 + r, mnemonic: 'push', operands: 'Zv', exec: pushZ, d64: true });
    t.push({ opcode: 0x58 + r, mnemonic: 'pop', operands: 'Zv', exec: popZ, d64: true });
    t.push({ opcode: 0x90 + r, mnemonic: r === 0 ? 'nop' : 'xchg', operands: 'Zv', exec: xchgAZ });
    t.push({ opcode: 0xb0 + r, mnemonic: 'mov', operands: 'Zb,Ib', exec: movZI });
    t.push({ opcode: 0xb8 + r, mnemonic: 'mov', operands: 'Zv,Iv', exec: movZI });
  }
  t.push({ opcode: 0x27, mnemonic: 'daa', operands: '', exec: decimalAdjust });
  t.push({ opcode: 0x2f, mnemonic: 'das', operands: '', exec: decimalAdjust });
  t.push({ opcode: 0x37, mnemonic: 'aaa', operands: '', exec: asciiAdjust });
  t.push({ opcode: 0x3f, mnemonic: 'aas', operands: '', exec: asciiAdjust });
  t.push({ opcode: 0xd4, mnemonic: 'aam', operands: 'Ib', exec: aam });
  t.push({ opcode: 0xd5, mnemonic: 'aad', operands: 'Ib', exec: aad });
  t.push({ opcode: 0x60, mnemonic: 'pusha', operands: '', exec: pusha });
  t.push({ opcode: 0x61, mnemonic: 'popa', operands: '', exec: popa });
  t.push({ opcode: 0x63, mnemonic: 'movsxd', operands: 'Gv,Ed', exec: movsxd });
  t.push({ opcode: 0x68, mnemonic: 'push', operands: 'Iz', exec: pushI, d64: true });
  t.push({ opcode: 0x69, mnemonic: 'imul', operands: 'Gv,Ev,Iz', exec: imulGE });
  t.push({ opcode: 0x6a, mnemonic: 'push', operands: 'Ib', exec: pushI, d64: true });
  t.push({ opcode: 0x6b, mnemonic: 'imul', operands: 'Gv,Ev,Ib', exec: imulGE });
  t.push({ opcode: 0x6c, mnemonic: 'insb', operands: 'Yb,DX', exec: ins });
  t.push({ opcode: 0x6d, mnemonic: 'ins', operands: 'Yz,DX', exec: ins });
  t.push({ opcode: 0x6e, mnemonic: 'outsb', operands: 'DX,Xb', exec: outs });
  t.push({ opcode: 0x6f, mnemonic: 'outs', operands: 'DX,Xz', exec: outs });
  CC.forEach((cc, n) => {
    t.push({ opcode: 0x70 + n, mnemonic: 'j' + cc, operands: 'Jb', exec: jcc, sub: n, f64: true });
    t.push({ opcode: 0x0f80 + n, mnemonic: 'j' + cc, operands: 'Jz', exec: jcc, sub: n, f64: true });
    t.push({ opcode: 0x0f40 + n, mnemonic: 'cmov' + cc, operands: 'Gv,Ev', exec: cmov, sub: n });
    t.push({ opcode: 0x0f90 + n, mnemonic: 'set' + cc, operands: 'Eb', exec: setcc, sub: n });
  });
  const grp1 = ALU.map((m, op) => ({ mnemonic: m, exec: aluEI, sub: op }));
  t.push({ opcode: 0x80, mnemonic: 'grp1', operands: 'Eb,Ib', group: grp1 });
  t.push({ opcode: 0x81, mnemonic: 'grp1', operands: 'Ev,Iz', group: grp1 });
  t.push({ opcode: 0x83, mnemonic: 'grp1', operands: 'Ev,Ib', group: grp1 });
  t.push({ opcode: 0x84, mnemonic: 'test', operands: 'Eb,Gb', exec: testEG });
  t.push({ opcode: 0x85, mnemonic: 'test', operands: 'Ev,Gv', exec: testEG });
  t.push({ opcode: 0x86, mnemonic: 'xchg', operands: 'Eb,Gb', exec: xchgEG });
  t.push({ opcode: 0x87, mnemonic: 'xchg', operands: 'Ev,Gv', exec: xchgEG });
  t.push({ opcode: 0x88, mnemonic: 'mov', operands: 'Eb,Gb', exec: movEG });
  t.push({ opcode: 0x89, mnemonic: 'mov', operands: 'Ev,Gv', exec: movEG });
  t.push({ opcode: 0x8a, mnemonic: 'mov', operands: 'Gb,Eb', exec: movGE });
  t.push({ opcode: 0x8b, mnemonic: 'mov', operands: 'Gv,Ev', exec: movGE });
  t.push({ opcode: 0x8c, mnemonic: 'mov', operands: 'Ev,Sw', exec: movESreg });
  t.push({ opcode: 0x8d, mnemonic: 'lea', operands: 'Gv,M', exec: lea });
  t.push({ opcode: 0x8e, mnemonic: 'mov', operands: 'Sw,Ew', exec: movSregE });
  t.push({ opcode: 0x8f, mnemonic: 'grp1a', operands: 'Ev', d64: true, group: [{ mnemonic: 'pop', exec: popE }] });
  t.push({ opcode: 0x98, mnemonic: 'cbw', operands: '', exec: cbw });
  t.push({ opcode: 0x99, mnemonic: 'cwd', operands: '', exec: cwd });
  t.push({ opcode: 0x9a, mnemonic: 'call far', operands: 'Ap', exec: callFar });
  t.push({ opcode: 0x9b, mnemonic: 'fwait', operands: '', exec: fwait });
  t.push({ opcode: 0x9c, mnemonic: 'pushf', operands: '', exec: pushf, d64: true });
  t.push({ opcode: 0x9d, mnemonic: 'popf', operands: '', exec: popf, d64: true });
  t.push({ opcode: 0x9e, mnemonic: 'sahf', operands: '', exec: sahf });
  t.push({ opcode: 0x9f, mnemonic: 'lahf', operands: '', exec: lahf });
  t.push({ opcode: 0xa0, mnemonic: 'mov', operands: 'AL,Ob', exec: movMoffs });
  t.push({ opcode: 0xa1, mnemonic: 'mov', operands: 'rAX,Ov', exec: movMoffs });
  t.push({ opcode: 0xa2, mnemonic: 'mov', operands: 'Ob,AL', exec: movMoffs });
  t.push({ opcode: 0xa3, mnemonic: 'mov', operands: 'Ov,rAX', exec: movMoffs });
  t.push({ opcode: 0xa4, mnemonic: 'movsb', operands: 'Yb,Xb', exec: movs });
  t.push({ opcode: 0xa5, mnemonic: 'movs', operands: 'Yv,Xv', exec: movs });
  t.push({ opcode: 0xa6, mnemonic: 'cmpsb', operands: 'Xb,Yb', exec: cmps });
  t.push({ opcode: 0xa7, mnemonic: 'cmps', operands: 'Xv,Yv', exec: cmps });
  t.push({ opcode: 0xa8, mnemonic: 'test', operands: 'AL,Ib', exec: testEI });
  t.push({ opcode: 0xa9, mnemonic: 'test', operands: 'rAX,Iz', exec: testEI });
  t.push({ opcode: 0xaa, mnemonic: 'stosb', operands: 'Yb,AL', exec: stos });
  t.push({ opcode: 0xab, mnemonic: 'stos', operands: 'Yv,rAX', exec: stos });
  t.push({ opcode: 0xac, mnemonic: 'lodsb', operands: 'AL,Xb', exec: lods });
  t.push({ opcode: 0xad, mnemonic: 'lods', operands: 'rAX,Xv', exec: lods });
  t.push({ opcode: 0xae, mnemonic: 'scasb', operands: 'AL,Yb', exec: scas });
  t.push({ opcode: 0xaf, mnemonic: 'scas', operands: 'rAX,Yv', exec: scas });
  const grp2 = SHIFTS.map((m, op) => ({ mnemonic: m, exec: shiftGroup, sub: op }));
  t.push({ opcode: 0xc0, mnemonic: 'grp2', operands: 'Eb,Ib', group: grp2 });
  t.push({ opcode: 0xc1, mnemonic: 'grp2', operands: 'Ev,Ib', group: grp2 });
  t.push({ opcode: 0xc2, mnemonic: 'ret', operands: 'Iw', exec: ret, f64: true });
  t.push({ opcode: 0xc3, mnemonic: 'ret', operands: '', exec: ret, f64: true });
  t.push({ opcode: 0xc4, mnemonic: 'les', operands: 'Gz,Mp', exec: loadFarPointer, sub: 0 });
  t.push({ opcode: 0xc5, mnemonic: 'lds', operands: 'Gz,Mp', exec: loadFarPointer, sub: 3 });
  t.push({ opcode: 0xc6, mnemonic: 'grp11', operands: 'Eb,Ib', group: [{ mnemonic: 'mov', exec: movEI }] });
  t.push({ opcode: 0xc7, mnemonic: 'grp11', operands: 'Ev,Iz', group: [{ mnemonic: 'mov', exec: movEI }] });
  t.push({ opcode: 0xc8, mnemonic: 'enter', operands: 'Iw,Ib', exec: enter, d64: true });
  t.push({ opcode: 0xc9, mnemonic: 'leave', operands: '', exec: leave, d64: true });
  t.push({ opcode: 0xca, mnemonic: 'retf', operands: 'Iw', exec: retFar });
  t.push({ opcode: 0xcb, mnemonic: 'retf', operands: '', exec: retFar });
  t.push({ opcode: 0xcc, mnemonic: 'int3', operands: '', exec: int });
  t.push({ opcode: 0xcd, mnemonic: 'int', operands: 'Ib', exec: int });
  t.push({ opcode: 0xce, mnemonic: 'into', operands: '', exec: int });
  t.push({ opcode: 0xcf, mnemonic: 'iret', operands: '', exec: iret });
  t.push({ opcode: 0xd0, mnemonic: 'grp2', operands: 'Eb,I1', group: grp2 });
  t.push({ opcode: 0xd1, mnemonic: 'grp2', operands: 'Ev,I1', group: grp2 });
  t.push({ opcode: 0xd2, mnemonic: 'grp2', operands: 'Eb,CL', group: grp2 });
  t.push({ opcode: 0xd3, mnemonic: 'grp2', operands: 'Ev,CL', group: grp2 });
  t.push({ opcode: 0xd7, mnemonic: 'xlat', operands: '', exec: xlat });
  t.push({ opcode: 0xe0, mnemonic: 'loopne', operands: 'Jb', exec: loop, f64: true });
  t.push({ opcode: 0xe1, mnemonic: 'loope', operands: 'Jb', exec: loop, f64: true });
  t.push({ opcode: 0xe2, mnemonic: 'loop', operands: 'Jb', exec: loop, f64: true });
  t.push({ opcode: 0xe3, mnemonic: 'jrcxz', operands: 'Jb', exec: loop, f64: true });
  t.push({ opcode: 0xe4, mnemonic: 'in', operands: 'AL,Ib', exec: inPort });
  t.push({ opcode: 0xe5, mnemonic: 'in', operands: 'eAX,Ib', exec: inPort });
  t.push({ opcode: 0xe6, mnemonic: 'out', operands: 'Ib,AL', exec: outPort });
  t.push({ opcode: 0xe7, mnemonic: 'out', operands: 'Ib,eAX', exec: outPort });
  t.push({ opcode: 0xe8, mnemonic: 'call', operands: 'Jz', exec: callRel, f64: true });
  t.push({ opcode: 0xe9, mnemonic: 'jmp', operands: 'Jz', exec: jmpRel, f64: true });
  t.push({ opcode: 0xea, mnemonic: 'jmp far', operands: 'Ap', exec: jmpFar });
  t.push({ opcode: 0xeb, mnemonic: 'jmp', operands: 'Jb', exec: jmpRel, f64: true });
  t.push({ opcode: 0xec, mnemonic: 'in', operands: 'AL,DX', exec: inPort });
  t.push({ opcode: 0xed, mnemonic: 'in', operands: 'eAX,DX', exec: inPort });
  t.push({ opcode: 0xee, mnemonic: 'out', operands: 'DX,AL', exec: outPort });
  t.push({ opcode: 0xef, mnemonic: 'out', operands: 'DX,eAX', exec: outPort });
  t.push({ opcode: 0xf1, mnemonic: 'int1', operands: '', exec: int });
  t.push({ opcode: 0xf4, mnemonic: 'hlt', operands: '', exec: hlt });
  t.push({ opcode: 0xf5, mnemonic: 'cmc', operands: '', exec: flagOp });
  const grp3 = (imm: string): GroupEntry[] => [
    { mnemonic: 'test', operands: imm, exec: testEI }, { mnemonic: 'test', operands: imm, exec: testEI },
    { mnemonic: 'not', exec: notE }, { mnemonic: 'neg', exec: negE },
    { mnemonic: 'mul', exec: mulE, sub: 4 }, { mnemonic: 'imul', exec: mulE, sub: 5 },
    { mnemonic: 'div', exec: divE, sub: 6 }, { mnemonic: 'idiv', exec: divE, sub: 7 },
  ];
  t.push({ opcode: 0xf6, mnemonic: 'grp3', operands: 'Eb', group: grp3('Eb,Ib') });
  t.push({ opcode: 0xf7, mnemonic: 'grp3', operands: 'Ev', group: grp3('Ev,Iz') });
  t.push({ opcode: 0xf8, mnemonic: 'clc', operands: '', exec: flagOp });
  t.push({ opcode: 0xf9, mnemonic: 'stc', operands: '', exec: flagOp });
  t.push({ opcode: 0xfa, mnemonic: 'cli', operands: '', exec: cli });
  t.push({ opcode: 0xfb, mnemonic: 'sti', operands: '', exec: sti });
  t.push({ opcode: 0xfc, mnemonic: 'cld', operands: '', exec: flagOp });
  t.push({ opcode: 0xfd, mnemonic: 'std', operands: '', exec: flagOp });
  t.push({ opcode: 0xfe, mnemonic: 'grp4', operands: 'Eb', group: [{ mnemonic: 'inc', exec: incDecE, sub: 0 }, { mnemonic: 'dec', exec: incDecE, sub: 1 }] });
  t.push({
    opcode: 0xff, mnemonic: 'grp5', operands: 'Ev', group: [
      { mnemonic: 'inc', exec: incDecE, sub: 0 }, { mnemonic: 'dec', exec: incDecE, sub: 1 },
      { mnemonic: 'call', exec: callE, f64: true }, { mnemonic: 'call far', operands: 'Mp', exec: callFar },
      { mnemonic: 'jmp', exec: jmpE, f64: true }, { mnemonic: 'jmp far', operands: 'Mp', exec: jmpFar },
      { mnemonic: 'push', exec: pushE, d64: true }, undefined,
    ],
  });
  return t;
}

function two(): OpcodeSpec[] {
  const t: OpcodeSpec[] = [];
  t.push({
    opcode: 0x0f00, mnemonic: 'grp6', operands: 'Ew', group: [
      { mnemonic: 'sldt', operands: 'Mw', exec: storeSystemSelector }, { mnemonic: 'str', operands: 'Mw', exec: storeSystemSelector },
      { mnemonic: 'lldt', exec: loadSystemSelector }, { mnemonic: 'ltr', exec: loadSystemSelector },
      { mnemonic: 'verr', exec: verrVerw }, { mnemonic: 'verw', exec: verrVerw },
    ],
  });
  // 0F 01: memory forms by ModRM.reg; register forms (mod = 3) dispatch on the whole ModRM.
  const g7 = (mem: Handler): Handler => (c, i) => (i.rm >= 0 && i.opcode === 0x0f01 ? group7Reg(c, i) : mem(c, i));
  t.push({
    opcode: 0x0f01, mnemonic: 'grp7', operands: 'M', group: [
      { mnemonic: 'sgdt', exec: g7(sdt) }, { mnemonic: 'sidt', exec: g7(sdt) },
      { mnemonic: 'lgdt', exec: g7(ldt) }, { mnemonic: 'lidt', exec: g7(ldt) },
      { mnemonic: 'smsw', operands: 'Ew', exec: smsw }, undefined,
      { mnemonic: 'lmsw', operands: 'Ew', exec: lmsw }, { mnemonic: 'invlpg', exec: g7(invlpg) },
    ],
  });
  t.push({ opcode: 0x0f02, mnemonic: 'lar', operands: 'Gv,Ew', exec: larLsl });
  t.push({ opcode: 0x0f03, mnemonic: 'lsl', operands: 'Gv,Ew', exec: larLsl });
  t.push({ opcode: 0x0f05, mnemonic: 'syscall', operands: '', exec: syscall });
  t.push({ opcode: 0x0f06, mnemonic: 'clts', operands: '', exec: clts });
  t.push({ opcode: 0x0f07, mnemonic: 'sysret', operands: '', exec: sysret });
  t.push({ opcode: 0x0f08, mnemonic: 'invd', operands: '', exec: wbinvd });
  t.push({ opcode: 0x0f09, mnemonic: 'wbinvd', operands: '', exec: wbinvd });
  t.push({ opcode: 0x0f0b, mnemonic: 'ud2', operands: '', exec: ud });
  t.push({ opcode: 0x0f0d, mnemonic: 'prefetchw', operands: 'Ev', exec: nop });
  for (let op = 0x18; op <= 0x1f; op++) t.push({ opcode: 0x0f00 | op, mnemonic: op === 0x18 ? 'prefetch' : 'nop', operands: 'Ev', exec: nop });
  t.push({ opcode: 0x0f20, mnemonic: 'mov', operands: 'Rd,Cd', exec: movFromCr, f64: true });
  t.push({ opcode: 0x0f21, mnemonic: 'mov', operands: 'Rd,Dd', exec: movDr, f64: true });
  t.push({ opcode: 0x0f22, mnemonic: 'mov', operands: 'Cd,Rd', exec: movToCr, f64: true });
  t.push({ opcode: 0x0f23, mnemonic: 'mov', operands: 'Dd,Rd', exec: movDr, f64: true });
  t.push({ opcode: 0x0f30, mnemonic: 'wrmsr', operands: '', exec: wrmsr });
  t.push({ opcode: 0x0f31, mnemonic: 'rdtsc', operands: '', exec: rdtsc });
  t.push({ opcode: 0x0f32, mnemonic: 'rdmsr', operands: '', exec: rdmsr });
  t.push({ opcode: 0x0f33, mnemonic: 'rdpmc', operands: '', exec: rdpmc });
  t.push({ opcode: 0x0f34, mnemonic: 'sysenter', operands: '', exec: sysenter });
  t.push({ opcode: 0x0f35, mnemonic: 'sysexit', operands: '', exec: sysexit });
  t.push({ opcode: 0x0fa0, mnemonic: 'push fs', operands: '', exec: pushSeg, sub: 4, d64: true });
  t.push({ opcode: 0x0fa1, mnemonic: 'pop fs', operands: '', exec: popSeg, sub: 4, d64: true });
  t.push({ opcode: 0x0fa2, mnemonic: 'cpuid', operands: '', exec: cpuidInsn });
  t.push({ opcode: 0x0fa3, mnemonic: 'bt', operands: 'Ev,Gv', exec: bitTest, sub: 0 });
  t.push({ opcode: 0x0fa4, mnemonic: 'shld', operands: 'Ev,Gv,Ib', exec: shiftDouble });
  t.push({ opcode: 0x0fa5, mnemonic: 'shld', operands: 'Ev,Gv,CL', exec: shiftDouble });
  t.push({ opcode: 0x0fa8, mnemonic: 'push gs', operands: '', exec: pushSeg, sub: 5, d64: true });
  t.push({ opcode: 0x0fa9, mnemonic: 'pop gs', operands: '', exec: popSeg, sub: 5, d64: true });
  t.push({ opcode: 0x0fab, mnemonic: 'bts', operands: 'Ev,Gv', exec: bitTest, sub: 1 });
  t.push({ opcode: 0x0fac, mnemonic: 'shrd', operands: 'Ev,Gv,Ib', exec: shiftDouble });
  t.push({ opcode: 0x0fad, mnemonic: 'shrd', operands: 'Ev,Gv,CL', exec: shiftDouble });
  t.push({ opcode: 0x0faf, mnemonic: 'imul', operands: 'Gv,Ev', exec: imulGE });
  t.push({ opcode: 0x0fb0, mnemonic: 'cmpxchg', operands: 'Eb,Gb', exec: cmpxchg });
  t.push({ opcode: 0x0fb1, mnemonic: 'cmpxchg', operands: 'Ev,Gv', exec: cmpxchg });
  t.push({ opcode: 0x0fb2, mnemonic: 'lss', operands: 'Gv,Mp', exec: loadFarPointer, sub: 2 });
  t.push({ opcode: 0x0fb3, mnemonic: 'btr', operands: 'Ev,Gv', exec: bitTest, sub: 2 });
  t.push({ opcode: 0x0fb4, mnemonic: 'lfs', operands: 'Gv,Mp', exec: loadFarPointer, sub: 4 });
  t.push({ opcode: 0x0fb5, mnemonic: 'lgs', operands: 'Gv,Mp', exec: loadFarPointer, sub: 5 });
  t.push({ opcode: 0x0fb6, mnemonic: 'movzx', operands: 'Gv,Eb', exec: movx });
  t.push({ opcode: 0x0fb7, mnemonic: 'movzx', operands: 'Gv,Ew', exec: movx });
  t.push({ opcode: 0x0fb9, mnemonic: 'ud1', operands: 'Gv,Ev', exec: ud });
  t.push({
    opcode: 0x0fba, mnemonic: 'grp8', operands: 'Ev,Ib', group: [undefined, undefined, undefined, undefined,
      { mnemonic: 'bt', exec: bitTest, sub: 0 }, { mnemonic: 'bts', exec: bitTest, sub: 1 },
      { mnemonic: 'btr', exec: bitTest, sub: 2 }, { mnemonic: 'btc', exec: bitTest, sub: 3 }],
  });
  t.push({ opcode: 0x0fbb, mnemonic: 'btc', operands: 'Ev,Gv', exec: bitTest, sub: 3 });
  t.push({ opcode: 0x0fbc, mnemonic: 'bsf', operands: 'Gv,Ev', exec: bitScan });
  t.push({ opcode: 0x0fbd, mnemonic: 'bsr', operands: 'Gv,Ev', exec: bitScan });
  t.push({ opcode: 0x0fbe, mnemonic: 'movsx', operands: 'Gv,Eb', exec: movx });
  t.push({ opcode: 0x0fbf, mnemonic: 'movsx', operands: 'Gv,Ew', exec: movx });
  t.push({ opcode: 0x0fc0, mnemonic: 'xadd', operands: 'Eb,Gb', exec: xadd });
  t.push({ opcode: 0x0fc1, mnemonic: 'xadd', operands: 'Ev,Gv', exec: xadd });
  t.push({ opcode: 0x0fc7, mnemonic: 'grp9', operands: 'M', group: [undefined, { mnemonic: 'cmpxchg8b', operands: 'Mq', exec: cmpxchg8b }] });
  for (let r = 0; r < 8; r++) t.push({ opcode: 0x0fc8 + r, mnemonic: 'bswap', operands: 'Zv', exec: bswap });
  t.push({ opcode: 0x0fff, mnemonic: 'ud0', operands: 'Gv,Ev', exec: ud });
  return t;
}

export const OPCODES: readonly OpcodeSpec[] = [...one(), ...two(), ...SIMD_OPCODES, ...X87_OPCODES];
