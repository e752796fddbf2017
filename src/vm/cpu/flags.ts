// RFLAGS bits (Intel SDM Vol. 1 §3.4.3) and the kinds of lazily evaluated arithmetic
// results. An arithmetic instruction records its operands and result (CpuState.fOp..fRh)
// instead of computing six flags; the flags are derived only when something reads them.

export const CF = 0x1;
export const PF = 0x4;
export const AF = 0x10;
export const ZF = 0x40;
export const SF = 0x80;
export const TF = 0x100;
export const IF = 0x200;
export const DF = 0x400;
export const OF = 0x800;
export const IOPL = 0x3000;
export const NT = 0x4000;
export const RF = 0x10000;
export const VM = 0x20000;
export const AC = 0x40000;
export const VIF = 0x80000;
export const VIP = 0x100000;
export const ID = 0x200000;

/** The six status flags the lazy evaluation covers. */
export const ARITH_FLAGS = CF | PF | AF | ZF | SF | OF;
/** Bits POPF/IRET may change at CPL 0 (VM, VIF, VIP stay as they are). */
export const WRITABLE_FLAGS = ARITH_FLAGS | TF | IF | DF | IOPL | NT | RF | AC | ID;

/** Lazy flag kinds: which instruction produced the recorded result. */
export const F_NONE = 0; // the status flags are in CpuState.flags
export const F_ADD = 1;
export const F_ADC = 2;
export const F_SUB = 3;
export const F_SBB = 4;
export const F_LOGIC = 5;
export const F_INC = 6; // like ADD with b = 1, CF kept (in fCin)
export const F_DEC = 7; // like SUB with b = 1, CF kept (in fCin)

export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let p = 1;
  for (let b = i; b; b >>= 1) p ^= b & 1;
  PARITY[i] = p ? PF : 0;
}

export const SIZE_MASK = [0, 0xff, 0xffff, 0, 0xffff_ffff, 0, 0, 0, 0xffff_ffff];
export const SIZE_SIGN = [0, 0x80, 0x8000, 0, 0x8000_0000, 0, 0, 0, 0x8000_0000];
