// One decoded instruction in the pre-dispatched form the executor runs (decoded once,
// cached per physical page). Fields are position-independent: RIP-relative and relative
// branch targets are resolved at execution time from the next RIP, so a decode stays
// valid wherever the page is mapped. All fields are always present (one object shape).

import type { Cpu } from './cpu.js';

export type Handler = (c: Cpu, i: Insn) => void;

/** Base register value meaning "RIP-relative" (64-bit mode, mod=00 r/m=101). */
export const BASE_RIP = 16;

export class Insn {
  exec: Handler;
  /** Length in bytes. */
  len = 0;
  /** Operand size in bytes (1, 2, 4, 8). */
  osize = 4;
  /** Address size in bytes (2, 4, 8). */
  asize = 4;
  /** ModRM.reg (with REX.R) or the register encoded in the opcode; byte regs AH..BH are 16..19. */
  reg = 0;
  /** Register operand of ModRM.rm (with REX.B), or -1 for a memory operand. */
  rm = -1;
  /** Memory operand: base register (-1 none, BASE_RIP), index (-1 none), scale shift, displacement. */
  base = -1;
  index = -1;
  scale = 0;
  disp = 0;
  /** Effective segment (ES=0 CS=1 SS=2 DS=3 FS=4 GS=5). */
  seg = 3;
  /** True when a segment override prefix was given. */
  segOverride = false;
  imm = 0;
  imm2 = 0;
  /** Opcode-specific selector from the table (ALU operation, condition code, ...). */
  sub = 0;
  /** 0 none, 1 REP/REPE (F3), 2 REPNE (F2). */
  rep = 0;
  lock = false;
  /** A REX prefix was present (selects SPL/BPL/SIL/DIL over AH..BH). */
  rex = false;
  rexW = false;
  /** Mandatory SIMD prefix in effect: 0, 0x66, 0xf3 or 0xf2. */
  mpfx = 0;
  /** Opcode (0x0F-escaped maps as 0x0Fxx, 0x0F38xx, 0x0F3Axx) and ModRM byte, for messages. */
  opcode = 0;
  modrm = 0;
  mnemonic = '';
  /** Fast-path form executed inline by the run loop (fast-path.ts), 0 = call exec. */
  fast = 0;
  /** Destination and source registers of a fast-path form. */
  fd = 0;
  fs = 0;
  /** Shape of the memory operand for the run loop's inline address computation (fast-path.ts). */
  eaFast = 0;

  constructor(exec: Handler) {
    this.exec = exec;
  }
}
