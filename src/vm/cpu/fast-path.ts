// Fast-path forms: the most frequent instruction shapes (register/immediate ALU ops,
// MOVs, INC/DEC, Jcc/JMP, PUSH/POP, CALL/RET) get a small number at decode time and are
// executed inline by the run loop's switch (cpu.ts) instead of through a handler call.
// Semantics are those of the handlers in exec-*.ts for the same forms; everything else
// keeps fast = 0 and runs its handler. This is where a block compiler would hook in.

import { BASE_RIP, type Insn } from './insn.js';

export const FAST_NONE = 0;
export const FAST_NOP = 1;
export const FAST_MOV_RR32 = 2;
export const FAST_MOV_RR64 = 3;
export const FAST_MOV_RI32 = 4;
export const FAST_MOV_RI64 = 5;
export const FAST_LOAD32 = 6;
export const FAST_LOAD64 = 7;
export const FAST_STORE32 = 8;
export const FAST_STORE64 = 9;
export const FAST_ADD32 = 10; // register or immediate source (fs = -1: imm)
export const FAST_SUB32 = 11;
export const FAST_CMP32 = 12;
export const FAST_AND32 = 13;
export const FAST_OR32 = 14;
export const FAST_XOR32 = 15;
export const FAST_TEST32 = 16;
export const FAST_ALU64 = 17;
export const FAST_INC32 = 18;
export const FAST_DEC32 = 19;
export const FAST_JCC64 = 20;
export const FAST_JCC32 = 21;
export const FAST_JMP64 = 22;
export const FAST_JMP32 = 23;
export const FAST_PUSH64 = 24;
export const FAST_POP64 = 25;
export const FAST_CALL64 = 26;
export const FAST_RET64 = 27;
export const FAST_TEST64 = 28;
export const FAST_INC64 = 29;
export const FAST_DEC64 = 30;
export const FAST_LEA64 = 31; // lea r64, [base + disp]
export const FAST_MOVZX8 = 32; // movzx r32, byte ptr [mem]
// Forms the kernel's hot loops (lib/mpi, hashing, list walks) run most after the above.
export const FAST_SHIFT64 = 33; // shl/shr/sar r64, imm8 or 1 (imm = the count)
export const FAST_MOVSXD = 34; // movsxd r64, r32
export const FAST_MOVZX_RR = 35; // movzx r32, r8/r16 (imm = the mask)
export const FAST_SETCC_R = 36; // setcc r8 (low byte registers)
export const FAST_CMOV64 = 37; // cmovcc r64, r64
export const FAST_CMOV32 = 38; // cmovcc r32, r32 (zero-extends even when false)
export const FAST_LEA64_SIB = 39; // lea r64, [base + index * scale + disp]
export const FAST_TEST8 = 40; // test r8, r8 (low byte registers)

/** eaFast: the memory operand is [base64 + disp] with no index, RIP or FS/GS base. */
export const EA_BASE_DISP64 = 1;

const ALU32 = [FAST_ADD32, FAST_OR32, 0, 0, FAST_AND32, FAST_SUB32, FAST_XOR32, FAST_CMP32];

/** Picks the fast-path form of a decoded instruction (sets fd/fs), or FAST_NONE. */
export function selectFast(i: Insn): number {
  const op = i.opcode, s = i.osize, reg = i.rm >= 0;
  if (!reg && i.asize === 8 && i.index < 0 && i.base >= 0 && i.base < 16 && i.seg < 4) i.eaFast = EA_BASE_DISP64;
  if (i.lock || i.rep !== 0 && op !== 0x90) return FAST_NONE;
  switch (op) {
    case 0x89: case 0x8b:
      if (s !== 4 && s !== 8) return FAST_NONE;
      if (reg) {
        i.fd = op === 0x89 ? i.rm : i.reg; i.fs = op === 0x89 ? i.reg : i.rm;
        return s === 4 ? FAST_MOV_RR32 : FAST_MOV_RR64;
      }
      i.fd = i.reg;
      if (op === 0x8b) return s === 4 ? FAST_LOAD32 : FAST_LOAD64;
      return s === 4 ? FAST_STORE32 : FAST_STORE64;
    case 0xc7:
      if (!reg || (s !== 4 && s !== 8)) return FAST_NONE;
      i.fd = i.rm;
      if (s === 8) { i.imm2 = i.imm < 0 ? -1 : 0; return FAST_MOV_RI64; }
      return FAST_MOV_RI32;
    case 0x90: return i.reg === 0 && i.mpfx === 0 ? FAST_NOP : FAST_NONE;
    case 0x85:
      if (!reg) return FAST_NONE;
      i.fd = i.rm; i.fs = i.reg;
      return s === 4 ? FAST_TEST32 : s === 8 ? FAST_TEST64 : FAST_NONE;
    case 0x0f1f: case 0x0f1e: return FAST_NOP;
    case 0x8d:
      if (s === 8 && i.eaFast === EA_BASE_DISP64) { i.fd = i.reg; return FAST_LEA64; }
      if (s === 8 && !reg && i.asize === 8 && i.index >= 0 && i.base !== BASE_RIP) { i.fd = i.reg; return FAST_LEA64_SIB; }
      return FAST_NONE;
    case 0x0fb6: case 0x0fb7:
      if (s === 4 && !reg && op === 0x0fb6) { i.fd = i.reg; return FAST_MOVZX8; }
      // A byte source without REX names AH..BH for 4-7: left to the handler.
      if (s === 4 && reg && (op === 0x0fb7 || i.rex || i.rm < 4 || i.rm >= 8)) {
        i.fd = i.reg; i.fs = i.rm; i.imm = op === 0x0fb6 ? 0xff : 0xffff;
        return FAST_MOVZX_RR;
      }
      return FAST_NONE;
    case 0x63:
      if (s === 8 && reg && i.asize === 8) { i.fd = i.reg; i.fs = i.rm; return FAST_MOVSXD; }
      return FAST_NONE;
    case 0x84:
      if (reg && i.rm < 16 && i.reg < 16) { i.fd = i.rm; i.fs = i.reg; return FAST_TEST8; }
      return FAST_NONE;
    case 0xc1: case 0xd1:
      if (s !== 8 || !reg || (i.sub !== 4 && i.sub !== 5 && i.sub !== 7)) return FAST_NONE;
      i.fd = i.rm;
      if (op === 0xd1) i.imm = 1;
      return (i.imm & 0x3f) === 0 ? FAST_NONE : FAST_SHIFT64;
    default: break;
  }
  if (op >= 0xb8 && op <= 0xbf && (s === 4 || s === 8)) {
    i.fd = i.reg;
    return s === 4 ? FAST_MOV_RI32 : FAST_MOV_RI64;
  }
  // ALU Ev,Gv (01, 09, 21, 29, 31, 39) and Gv,Ev (03, 0B, 23, 2B, 33, 3B), register forms.
  if (op < 0x40 && (op & 7) <= 3 && (op & 7) % 2 === 1 && reg && (s === 4 || s === 8)) {
    const alu = op >> 3;
    if ((alu === 2 || alu === 3) && s !== 8) return FAST_NONE; // the 64-bit form goes through alu64, which has them
    if ((op & 7) === 1) { i.fd = i.rm; i.fs = i.reg; } else { i.fd = i.reg; i.fs = i.rm; }
    i.sub = alu;
    return s === 4 ? ALU32[alu] : FAST_ALU64;
  }
  // Group 1 with an immediate (81, 83), register forms.
  if ((op === 0x81 || op === 0x83) && reg && (s === 4 || s === 8)) {
    if (i.sub === 2 || i.sub === 3) return FAST_NONE;
    i.fd = i.rm; i.fs = -1;
    return s === 4 ? ALU32[i.sub] : FAST_ALU64;
  }
  if (op === 0xff && reg && (i.sub === 0 || i.sub === 1) && ((i.modrm >> 3) & 7) < 2 && (s === 4 || s === 8)) {
    i.fd = i.rm;
    if (s === 4) return i.sub === 0 ? FAST_INC32 : FAST_DEC32;
    return i.sub === 0 ? FAST_INC64 : FAST_DEC64;
  }
  if (op >= 0x0f90 && op <= 0x0f9f && reg && i.rm < 16) return FAST_SETCC_R;
  if (op >= 0x0f40 && op <= 0x0f4f && reg && (s === 4 || s === 8)) {
    i.fd = i.reg; i.fs = i.rm;
    return s === 8 ? FAST_CMOV64 : FAST_CMOV32;
  }
  if ((op >= 0x70 && op <= 0x7f) || (op >= 0x0f80 && op <= 0x0f8f)) return s === 8 ? FAST_JCC64 : s === 4 ? FAST_JCC32 : FAST_NONE;
  if (op === 0xeb || op === 0xe9) return s === 8 ? FAST_JMP64 : s === 4 ? FAST_JMP32 : FAST_NONE;
  if (op >= 0x50 && op <= 0x57 && s === 8) return FAST_PUSH64;
  if (op >= 0x58 && op <= 0x5f && s === 8) return FAST_POP64;
  if (op === 0xe8 && s === 8) return FAST_CALL64;
  if (op === 0xc3 && s === 8) return FAST_RET64;
  return FAST_NONE;
}
