// The x86 instruction decoder (Intel SDM Vol. 2 Chapter 2: prefixes, REX, ModRM, SIB,
// displacement, immediate). It reads bytes through Mmu.fetch8 and turns them into an Insn
// using the opcode table (opcodes.ts), whose operand strings in SDM opcode-map notation
// decide which fields follow the opcode. The decoder knows nothing about execution.
// Not decoded: VEX/EVEX (AVX is not advertised; C4/C5 are LES/LDS outside 64-bit mode),
// 3DNow!, XOP.

import { CpuFault, UnimplementedError, Vector } from './fault.js';
import { BASE_RIP, type Handler, Insn } from './insn.js';
import type { Mmu } from './mmu.js';
import { selectFast } from './fast-path.js';
import { OPCODES, type OpcodeSpec } from './opcodes.js';

const IMM_NONE = 0, IMM_B = 1, IMM_W = 2, IMM_Z = 3, IMM_V = 4, IMM_JZ = 5, IMM_AP = 6, IMM_MOFFS = 7;

interface Entry {
  mnemonic: string;
  exec: Handler | undefined;
  sub: number;
  modrm: boolean;
  byteOp: boolean;
  imm1: number;
  imm2: number;
  d64: boolean;
  f64: boolean;
  simd: boolean;
  group: (Entry | undefined)[] | undefined;
}

function parseOperands(operands: string): { modrm: boolean; byteOp: boolean; imm1: number; imm2: number } {
  const ops = operands === '' ? [] : operands.split(',');
  let modrm = false, hasV = false, hasB = false;
  const imms: number[] = [];
  for (const o of ops) {
    const kind = o[0], size = o.slice(1);
    if (o === 'AL') { hasB = true; continue; }
    if (o === 'CL' || o === 'DX') continue;
    if (o === 'rAX' || o === 'eAX') { hasV = true; continue; }
    if ('EGMRSCDVWUNPQ'.includes(kind)) modrm = true;
    if (kind === 'I' || kind === 'J') {
      if (o === 'I1') continue;
      imms.push(kind === 'J' ? (size === 'b' ? IMM_B : IMM_JZ)
        : size === 'b' ? IMM_B : size === 'w' ? IMM_W : size === 'z' ? IMM_Z : IMM_V);
      continue;
    }
    if (o === 'Ap') { imms.push(IMM_AP); continue; }
    if (kind === 'O') { imms.push(IMM_MOFFS); if (size === 'b') hasB = true; else hasV = true; continue; }
    if ('EGZXY'.includes(kind)) {
      if (size === 'b') hasB = true; else if (size === 'v' || size === 'z' || size === 'y') hasV = true;
    }
  }
  return { modrm, byteOp: hasB && !hasV, imm1: imms[0] ?? IMM_NONE, imm2: imms[1] ?? IMM_NONE };
}

function makeEntry(spec: { mnemonic: string; operands?: string; exec?: Handler; sub?: number; d64?: boolean; f64?: boolean; simd?: boolean }, parentOperands = ''): Entry {
  const p = parseOperands(spec.operands ?? parentOperands);
  return { mnemonic: spec.mnemonic, exec: spec.exec, sub: spec.sub ?? 0, modrm: p.modrm, byteOp: p.byteOp,
    imm1: p.imm1, imm2: p.imm2, d64: spec.d64 ?? false, f64: spec.f64 ?? false, simd: spec.simd ?? false, group: undefined };
}

// Table index: map (0: one-byte, 1: 0F, 2: 0F38, 3: 0F3A) * 1024 + opcode * 4 + prefix slot
// (0 none, 1 66, 2 F3, 3 F2). Prefix slots other than 0 hold SIMD forms with a mandatory prefix.
const TABLE: (Entry | undefined)[] = new Array(4 * 1024);

function prefixSlot(p: number | undefined): number {
  return p === 0x66 ? 1 : p === 0xf3 ? 2 : p === 0xf2 ? 3 : 0;
}

function mapOf(opcode: number): [number, number] {
  if (opcode >= 0x0f3a00) return [3, opcode & 0xff];
  if (opcode >= 0x0f3800) return [2, opcode & 0xff];
  if (opcode >= 0x0f00) return [1, opcode & 0xff];
  return [0, opcode];
}

function buildTable(specs: readonly OpcodeSpec[]): void {
  for (const s of specs) {
    const [map, op] = mapOf(s.opcode);
    const e = makeEntry(s);
    if (s.group) {
      e.modrm = true;
      e.group = s.group.map((g) => {
        if (!g) return undefined;
        const ge = makeEntry({ d64: s.d64, f64: s.f64, ...g }, s.operands);
        ge.modrm = true;
        return ge;
      });
    }
    const idx = map * 1024 + op * 4 + prefixSlot(s.prefix);
    if (TABLE[idx]) throw new Error(`opcode table: duplicate entry for ${s.mnemonic} 0x${s.opcode.toString(16)}`);
    TABLE[idx] = e;
  }
}
buildTable(OPCODES);

const SEG_PREFIX: Record<number, number> = { 0x26: 0, 0x2e: 1, 0x36: 2, 0x3e: 3, 0x64: 4, 0x65: 5 };

/** The first n bytes at lin, for messages (re-read: the decoder keeps no copy). */
function hexAt(c: Mmu, lin: number, n: number, mode: number): string {
  const out: string[] = [];
  for (let k = 0; k < n; k++) out.push(c.fetch8(mode === 64 ? lin + k : (lin + k) >>> 0).toString(16).padStart(2, '0'));
  return out.join(' ');
}

/**
 * Decodes the instruction at linear address `lin` for a code segment of `mode` bits
 * (16, 32 or 64). Throws CpuFault (#PF on fetch, #UD, #GP for > 15 bytes) or
 * UnimplementedError for opcodes this CPU does not implement.
 */
export function decode(c: Mmu, lin: number, mode: number): Insn {
  let n = 0;
  const next = (): number => {
    if (n >= 15) throw new CpuFault(Vector.GP, 0);
    const b = c.fetch8(mode === 64 ? lin + n : (lin + n) >>> 0);
    n++;
    return b;
  };
  let opsize = false, adsize = false, seg = -1, rep = 0, lock = false, last = 0;
  let rex = 0;
  let b = next();
  for (;;) {
    if (b === 0x66) { opsize = true; last = 0x66; }
    else if (b === 0x67) adsize = true;
    else if (b === 0xf2 || b === 0xf3) { rep = b === 0xf3 ? 1 : 2; last = b; }
    else if (b === 0xf0) lock = true;
    else if (SEG_PREFIX[b] !== undefined) seg = SEG_PREFIX[b];
    else if (mode === 64 && (b & 0xf0) === 0x40) {
      rex = b;
      b = next();
      // A REX prefix counts only directly before the opcode (SDM Vol. 2 §2.2.1).
      if (b === 0x66 || b === 0x67 || b === 0xf2 || b === 0xf3 || b === 0xf0 || SEG_PREFIX[b] !== undefined || (b & 0xf0) === 0x40) {
        rex = 0;
        continue;
      }
      break;
    } else break;
    b = next();
  }
  let map = 0;
  let op = b;
  if (b === 0x0f) {
    op = next();
    map = 1;
    if (op === 0x38) { map = 2; op = next(); } else if (op === 0x3a) { map = 3; op = next(); }
  }
  const mpfx = rep === 1 ? 0xf3 : rep === 2 ? 0xf2 : opsize ? 0x66 : 0;
  // SIMD forms: the last of 66/F2/F3 selects the form; 66 is then not an operand-size prefix.
  let entry: Entry | undefined;
  let usedMandatory = false;
  if (map !== 0 && mpfx !== 0) {
    const cand = [last, rep === 1 ? 0xf3 : rep === 2 ? 0xf2 : 0, opsize ? 0x66 : 0];
    for (const p of cand) {
      if (!p) continue;
      entry = TABLE[map * 1024 + op * 4 + prefixSlot(p)];
      if (entry) { usedMandatory = true; break; }
    }
  }
  if (!entry) {
    entry = TABLE[map * 1024 + op * 4];
    // F2/F3 in front of an SSE opcode that has no such form name another (unimplemented)
    // instruction, e.g. SSE3's MOVDDUP; never the prefix-less form.
    if (entry && entry.simd && rep !== 0) entry = undefined;
  }
  const opcodeId = map === 0 ? op : map === 1 ? 0x0f00 | op : map === 2 ? 0x0f3800 | op : 0x0f3a00 | op;
  if (!entry) {
    throw new UnimplementedError(`opcode ${hexAt(c, lin, n, mode)} not implemented`);
  }
  const rexW = (rex & 8) !== 0, rexR = (rex & 4) << 1, rexX = (rex & 2) << 2, rexB = (rex & 1) << 3;
  let modrm = 0;
  if (entry.modrm) {
    modrm = next();
    if (entry.group) {
      const g = entry.group[(modrm >> 3) & 7];
      if (!g) throw new UnimplementedError(`opcode ${hexAt(c, lin, n, mode)} (/${(modrm >> 3) & 7}) not implemented`);
      entry = g;
    }
  }
  if (!entry.exec) throw new UnimplementedError(`opcode ${hexAt(c, lin, n, mode)} (${entry.mnemonic}) not implemented`);
  const i = new Insn(entry.exec);
  i.opcode = opcodeId;
  i.modrm = modrm;
  i.mnemonic = entry.mnemonic;
  i.sub = entry.sub;
  i.rep = rep;
  i.lock = lock;
  i.rex = rex !== 0;
  i.rexW = rexW;
  i.mpfx = usedMandatory ? mpfx : 0;
  const sizePrefix = opsize && !(usedMandatory && mpfx === 0x66);
  // Operand size (SDM Vol. 1 §3.6.1, Vol. 2 §2.2.1.2 for 64-bit defaults).
  if (entry.byteOp) i.osize = 1;
  else if (mode === 64) i.osize = rexW || entry.f64 ? 8 : sizePrefix ? 2 : entry.d64 ? 8 : 4;
  else i.osize = (mode === 16) !== sizePrefix ? 2 : 4;
  i.asize = mode === 64 ? (adsize ? 4 : 8) : (mode === 16) !== adsize ? 2 : 4;

  if (entry.modrm) {
    const mod = modrm >> 6, rmf = modrm & 7;
    let reg = ((modrm >> 3) & 7) | rexR;
    if (i.osize === 1 && rex === 0 && reg >= 4 && reg < 8) reg += 12; // AH..BH = 16..19
    i.reg = reg;
    if (mod === 3) {
      let rm = rmf | rexB;
      if (i.osize === 1 && rex === 0 && rm >= 4 && rm < 8) rm += 12;
      i.rm = rm;
      // Register forms with an implicit memory operand (MASKMOVQ/MASKMOVDQU at DS:rDI) honour an override.
      i.seg = seg >= 0 ? seg : 3;
    } else {
      i.rm = -1;
      let defSeg = 3;
      if (i.asize === 2) {
        // 16-bit addressing forms (SDM Vol. 2 Table 2-1).
        const BASES = [3, 3, 5, 5, 6, 7, 5, 3], INDEXES = [6, 7, 6, 7, -1, -1, -1, -1];
        if (mod === 0 && rmf === 6) {
          i.base = -1; i.index = -1;
          i.disp = next() | (next() << 8);
        } else {
          i.base = BASES[rmf]; i.index = INDEXES[rmf];
          if (rmf === 2 || rmf === 3 || rmf === 6) defSeg = 2;
          if (mod === 1) i.disp = (next() << 24) >> 24;
          else if (mod === 2) i.disp = ((next() | (next() << 8)) << 16) >> 16;
        }
      } else {
        if (rmf === 4) {
          const sib = next();
          const idx = ((sib >> 3) & 7) | rexX;
          i.index = idx === 4 ? -1 : idx;
          i.scale = sib >> 6;
          const bs = sib & 7;
          if (bs === 5 && mod === 0) {
            i.base = -1;
            i.disp = next() | (next() << 8) | (next() << 16) | (next() << 24);
          } else {
            i.base = bs | rexB;
            if (bs === 4 || bs === 5) defSeg = 2;
          }
        } else if (rmf === 5 && mod === 0) {
          i.base = mode === 64 ? BASE_RIP : -1;
          i.disp = next() | (next() << 8) | (next() << 16) | (next() << 24);
        } else {
          i.base = rmf | rexB;
          if (rmf === 5) defSeg = 2;
        }
        if (mod === 1) i.disp = (next() << 24) >> 24;
        else if (mod === 2) i.disp = next() | (next() << 8) | (next() << 16) | (next() << 24);
      }
      i.seg = seg >= 0 ? seg : defSeg;
    }
  } else {
    // Register in the low opcode bits (Zb/Zv), e.g. PUSH/POP/MOV/XCHG/BSWAP.
    let reg = (op & 7) | rexB;
    if (entry.byteOp && rex === 0 && reg >= 4 && reg < 8) reg += 12;
    i.reg = reg;
    i.seg = seg >= 0 ? seg : 3;
  }
  i.segOverride = seg >= 0;
  const kinds = [entry.imm1, entry.imm2];
  for (let k = 0; k < 2; k++) {
    const kind = kinds[k];
    let v = 0, v2 = 0;
    switch (kind) {
      case IMM_NONE: continue;
      case IMM_B: v = (next() << 24) >> 24; break;
      case IMM_W: v = next() | (next() << 8); break;
      case IMM_Z: case IMM_JZ:
        if (i.osize === 2 && !(kind === IMM_JZ && mode === 64)) v = ((next() | (next() << 8)) << 16) >> 16;
        else v = next() | (next() << 8) | (next() << 16) | (next() << 24);
        break;
      case IMM_V:
        if (i.osize === 2) v = next() | (next() << 8);
        else if (i.osize === 4) v = (next() | (next() << 8) | (next() << 16) | (next() << 24)) >>> 0;
        else {
          v = (next() | (next() << 8) | (next() << 16) | (next() << 24)) >>> 0;
          v2 = (next() | (next() << 8) | (next() << 16) | (next() << 24)) >>> 0;
        }
        break;
      case IMM_AP:
        v = i.osize === 2 ? next() | (next() << 8) : (next() | (next() << 8) | (next() << 16) | (next() << 24)) >>> 0;
        v2 = next() | (next() << 8);
        break;
      case IMM_MOFFS:
        if (i.asize === 2) v = next() | (next() << 8);
        else {
          v = (next() | (next() << 8) | (next() << 16) | (next() << 24)) >>> 0;
          if (i.asize === 8) v2 = (next() | (next() << 8) | (next() << 16) | (next() << 24)) | 0;
        }
        break;
    }
    // The first immediate goes to imm (two-part ones also fill imm2); ENTER's second to imm2.
    if (k === 0) { i.imm = v; i.imm2 = v2; } else i.imm2 = v;
  }
  if (lock && (i.rm >= 0 || !entry.modrm)) throw new CpuFault(Vector.UD);
  i.len = n;
  i.fast = selectFast(i);
  return i;
}
