// SSE/SSE2 and MMX opcode entries (Intel SDM Vol. 2 Appendix A, 0F map, Table A-3 with
// the mandatory-prefix columns): one entry per opcode and prefix (none = PS/MMX column,
// 66 = PD/XMM-integer, F3 = SS, F2 = SD). Semantics in exec-sse.ts and exec-mmx.ts.

import {
  comis, cvtDqPd, cvtDqPs, cvtFloat, cvts2si, cvtsi2s, farith, fcmp, group15, logic, movdFromXmm, movdToXmm,
  maskmovdqu, movHalfLoad, movHalfStore, movLoad, movmsk, movnti, movqLoad, movqStore, movScalarLoad, movScalarStore, movStore,
  pack, pextrw, pint, pinsrw, pmaddwd, pmovmskb, pquad, psadbw, pshuf, shiftImm, shiftXmm, shufp, unpack,
} from './exec-sse.js';
import {
  cvtp2pi, cvtpi2p, emms, maskmovq, mmxPack, mmxShiftImm, mmxUnpackHigh, movdFromMm, movdToMm, movq2dq, movqFromMm,
  movqToMm, pextrwMm, pinsrwMm, pmovmskbMm, viaXmm,
} from './exec-mmx.js';
import type { OpcodeSpec } from './opcodes.js';

const P66 = 0x66, F3 = 0xf3, F2 = 0xf2;

function simd(): OpcodeSpec[] {
  const t: OpcodeSpec[] = [];
  const add = (opcode: number, prefix: number, mnemonic: string, operands: string, exec: OpcodeSpec['exec'], sub?: number) =>
    t.push({ opcode, prefix: prefix || undefined, mnemonic, operands, exec, sub, simd: true });
  add(0x0f10, 0, 'movups', 'Vps,Wps', movLoad); add(0x0f10, P66, 'movupd', 'Vpd,Wpd', movLoad);
  add(0x0f10, F3, 'movss', 'Vx,Wss', movScalarLoad); add(0x0f10, F2, 'movsd', 'Vx,Wsd', movScalarLoad);
  add(0x0f11, 0, 'movups', 'Wps,Vps', movStore); add(0x0f11, P66, 'movupd', 'Wpd,Vpd', movStore);
  add(0x0f11, F3, 'movss', 'Wss,Vss', movScalarStore); add(0x0f11, F2, 'movsd', 'Wsd,Vsd', movScalarStore);
  add(0x0f12, 0, 'movlps', 'Vq,Mq', movHalfLoad); add(0x0f12, P66, 'movlpd', 'Vq,Mq', movHalfLoad);
  add(0x0f13, 0, 'movlps', 'Mq,Vq', movHalfStore); add(0x0f13, P66, 'movlpd', 'Mq,Vq', movHalfStore);
  add(0x0f14, 0, 'unpcklps', 'Vx,Wx', unpack); add(0x0f14, P66, 'unpcklpd', 'Vx,Wx', unpack);
  add(0x0f15, 0, 'unpckhps', 'Vx,Wx', unpack); add(0x0f15, P66, 'unpckhpd', 'Vx,Wx', unpack);
  add(0x0f16, 0, 'movhps', 'Vdq,Mq', movHalfLoad); add(0x0f16, P66, 'movhpd', 'Vdq,Mq', movHalfLoad);
  add(0x0f17, 0, 'movhps', 'Mq,Vq', movHalfStore); add(0x0f17, P66, 'movhpd', 'Mq,Vq', movHalfStore);
  add(0x0f28, 0, 'movaps', 'Vps,Wps', movLoad); add(0x0f28, P66, 'movapd', 'Vpd,Wpd', movLoad);
  add(0x0f29, 0, 'movaps', 'Wps,Vps', movStore); add(0x0f29, P66, 'movapd', 'Wpd,Vpd', movStore);
  add(0x0f2a, F3, 'cvtsi2ss', 'Vss,Ey', cvtsi2s); add(0x0f2a, F2, 'cvtsi2sd', 'Vsd,Ey', cvtsi2s);
  add(0x0f2b, 0, 'movntps', 'Mps,Vps', movStore); add(0x0f2b, P66, 'movntpd', 'Mpd,Vpd', movStore);
  add(0x0f2c, F3, 'cvttss2si', 'Gy,Wss', cvts2si); add(0x0f2c, F2, 'cvttsd2si', 'Gy,Wsd', cvts2si);
  add(0x0f2d, F3, 'cvtss2si', 'Gy,Wss', cvts2si); add(0x0f2d, F2, 'cvtsd2si', 'Gy,Wsd', cvts2si);
  add(0x0f2e, 0, 'ucomiss', 'Vss,Wss', comis); add(0x0f2e, P66, 'ucomisd', 'Vsd,Wsd', comis);
  add(0x0f2f, 0, 'comiss', 'Vss,Wss', comis); add(0x0f2f, P66, 'comisd', 'Vsd,Wsd', comis);
  add(0x0f50, 0, 'movmskps', 'Gd,Ups', movmsk); add(0x0f50, P66, 'movmskpd', 'Gd,Upd', movmsk);
  const ARITH: Array<[number, string]> = [[0x51, 'sqrt'], [0x58, 'add'], [0x59, 'mul'], [0x5c, 'sub'], [0x5d, 'min'], [0x5e, 'div'], [0x5f, 'max']];
  for (const [op, m] of ARITH) {
    add(0x0f00 | op, 0, m + 'ps', 'Vps,Wps', farith); add(0x0f00 | op, P66, m + 'pd', 'Vpd,Wpd', farith);
    add(0x0f00 | op, F3, m + 'ss', 'Vss,Wss', farith); add(0x0f00 | op, F2, m + 'sd', 'Vsd,Wsd', farith);
  }
  add(0x0f52, 0, 'rsqrtps', 'Vps,Wps', farith); add(0x0f52, F3, 'rsqrtss', 'Vss,Wss', farith);
  add(0x0f53, 0, 'rcpps', 'Vps,Wps', farith); add(0x0f53, F3, 'rcpss', 'Vss,Wss', farith);
  const LOGIC: Array<[number, string, number]> = [[0x54, 'and', 0], [0x55, 'andn', 1], [0x56, 'or', 2], [0x57, 'xor', 3]];
  for (const [op, m, sub] of LOGIC) { add(0x0f00 | op, 0, m + 'ps', 'Vps,Wps', logic, sub); add(0x0f00 | op, P66, m + 'pd', 'Vpd,Wpd', logic, sub); }
  add(0x0fdb, P66, 'pand', 'Vx,Wx', logic, 0); add(0x0fdf, P66, 'pandn', 'Vx,Wx', logic, 1);
  add(0x0feb, P66, 'por', 'Vx,Wx', logic, 2); add(0x0fef, P66, 'pxor', 'Vx,Wx', logic, 3);
  add(0x0f5a, 0, 'cvtps2pd', 'Vpd,Wps', cvtFloat); add(0x0f5a, P66, 'cvtpd2ps', 'Vps,Wpd', cvtFloat);
  add(0x0f5a, F3, 'cvtss2sd', 'Vsd,Wss', cvtFloat); add(0x0f5a, F2, 'cvtsd2ss', 'Vss,Wsd', cvtFloat);
  add(0x0f5b, 0, 'cvtdq2ps', 'Vps,Wdq', cvtDqPs); add(0x0f5b, P66, 'cvtps2dq', 'Vdq,Wps', cvtDqPs); add(0x0f5b, F3, 'cvttps2dq', 'Vdq,Wps', cvtDqPs);
  add(0x0fe6, P66, 'cvttpd2dq', 'Vx,Wpd', cvtDqPd); add(0x0fe6, F3, 'cvtdq2pd', 'Vx,Wpd', cvtDqPd); add(0x0fe6, F2, 'cvtpd2dq', 'Vx,Wpd', cvtDqPd);
  const UNPACK: Array<[number, string]> = [[0x60, 'punpcklbw'], [0x61, 'punpcklwd'], [0x62, 'punpckldq'], [0x68, 'punpckhbw'], [0x69, 'punpckhwd'], [0x6a, 'punpckhdq'], [0x6c, 'punpcklqdq'], [0x6d, 'punpckhqdq']];
  for (const [op, m] of UNPACK) add(0x0f00 | op, P66, m, 'Vx,Wx', unpack);
  add(0x0f63, P66, 'packsswb', 'Vx,Wx', pack); add(0x0f67, P66, 'packuswb', 'Vx,Wx', pack); add(0x0f6b, P66, 'packssdw', 'Vx,Wx', pack);
  const PINT: Array<[number, string]> = [[0x64, 'pcmpgtb'], [0x65, 'pcmpgtw'], [0x66, 'pcmpgtd'], [0x74, 'pcmpeqb'], [0x75, 'pcmpeqw'], [0x76, 'pcmpeqd'],
    [0xd5, 'pmullw'], [0xd8, 'psubusb'], [0xd9, 'psubusw'], [0xda, 'pminub'], [0xdc, 'paddusb'], [0xdd, 'paddusw'], [0xde, 'pmaxub'],
    [0xe0, 'pavgb'], [0xe3, 'pavgw'], [0xe4, 'pmulhuw'], [0xe5, 'pmulhw'], [0xe8, 'psubsb'], [0xe9, 'psubsw'], [0xea, 'pminsw'],
    [0xec, 'paddsb'], [0xed, 'paddsw'], [0xee, 'pmaxsw'], [0xf8, 'psubb'], [0xf9, 'psubw'], [0xfa, 'psubd'], [0xfc, 'paddb'], [0xfd, 'paddw'], [0xfe, 'paddd']];
  for (const [op, m] of PINT) add(0x0f00 | op, P66, m, 'Vx,Wx', pint);
  add(0x0fd4, P66, 'paddq', 'Vx,Wx', pquad); add(0x0ffb, P66, 'psubq', 'Vx,Wx', pquad); add(0x0ff4, P66, 'pmuludq', 'Vx,Wx', pquad);
  add(0x0ff5, P66, 'pmaddwd', 'Vx,Wx', pmaddwd); add(0x0ff6, P66, 'psadbw', 'Vx,Wx', psadbw);
  add(0x0f6e, P66, 'movd', 'Vy,Ey', movdToXmm); add(0x0f7e, P66, 'movd', 'Ey,Vy', movdFromXmm);
  add(0x0f7e, F3, 'movq', 'Vx,Wq', movqLoad); add(0x0fd6, P66, 'movq', 'Wq,Vq', movqStore);
  add(0x0f6f, P66, 'movdqa', 'Vx,Wx', movLoad); add(0x0f6f, F3, 'movdqu', 'Vx,Wx', movLoad);
  add(0x0f7f, P66, 'movdqa', 'Wx,Vx', movStore); add(0x0f7f, F3, 'movdqu', 'Wx,Vx', movStore);
  add(0x0fe7, P66, 'movntdq', 'Mx,Vx', movStore);
  add(0x0f70, P66, 'pshufd', 'Vx,Wx,Ib', pshuf); add(0x0f70, F3, 'pshufhw', 'Vx,Wx,Ib', pshuf); add(0x0f70, F2, 'pshuflw', 'Vx,Wx,Ib', pshuf);
  add(0x0f71, P66, 'grp12', 'Ux,Ib', shiftImm); add(0x0f72, P66, 'grp13', 'Ux,Ib', shiftImm); add(0x0f73, P66, 'grp14', 'Ux,Ib', shiftImm);
  const SHX: Array<[number, string]> = [[0xd1, 'psrlw'], [0xd2, 'psrld'], [0xd3, 'psrlq'], [0xe1, 'psraw'], [0xe2, 'psrad'], [0xf1, 'psllw'], [0xf2, 'pslld'], [0xf3, 'psllq']];
  for (const [op, m] of SHX) add(0x0f00 | op, P66, m, 'Vx,Wx', shiftXmm);
  mmx(add, t);
  add(0x0fc2, 0, 'cmpps', 'Vps,Wps,Ib', fcmp); add(0x0fc2, P66, 'cmppd', 'Vpd,Wpd,Ib', fcmp);
  add(0x0fc2, F3, 'cmpss', 'Vss,Wss,Ib', fcmp); add(0x0fc2, F2, 'cmpsd', 'Vsd,Wsd,Ib', fcmp);
  add(0x0fc3, 0, 'movnti', 'My,Gy', movnti);
  add(0x0fc4, P66, 'pinsrw', 'Vdq,Ew,Ib', pinsrw); add(0x0fc5, P66, 'pextrw', 'Gd,Udq,Ib', pextrw);
  add(0x0fc6, 0, 'shufps', 'Vps,Wps,Ib', shufp); add(0x0fc6, P66, 'shufpd', 'Vpd,Wpd,Ib', shufp);
  add(0x0fd7, P66, 'pmovmskb', 'Gd,Ux', pmovmskb);
  add(0x0ff7, P66, 'maskmovdqu', 'Vdq,Udq', maskmovdqu);
  add(0x0fae, 0, 'grp15', 'M', group15);
  return t;
}

/**
 * The no-prefix (MMX register) forms of the integer instructions, MMX's own moves and EMMS,
 * SSE's MMX extensions and SSE2's PADDQ/PSUBQ/PMULUDQ on mm, MOVQ2DQ/MOVDQ2Q, CVT*PI*.
 */
function mmx(add: (opcode: number, prefix: number, mnemonic: string, operands: string, exec: OpcodeSpec['exec']) => void, sseForms: readonly OpcodeSpec[]): void {
  const LANEWISE: Array<[number, string]> = [
    [0x60, 'punpcklbw'], [0x61, 'punpcklwd'], [0x62, 'punpckldq'],
    [0x64, 'pcmpgtb'], [0x65, 'pcmpgtw'], [0x66, 'pcmpgtd'], [0x74, 'pcmpeqb'], [0x75, 'pcmpeqw'], [0x76, 'pcmpeqd'],
    [0xd1, 'psrlw'], [0xd2, 'psrld'], [0xd3, 'psrlq'], [0xd4, 'paddq'], [0xd5, 'pmullw'], [0xd8, 'psubusb'], [0xd9, 'psubusw'],
    [0xda, 'pminub'], [0xdb, 'pand'], [0xdc, 'paddusb'], [0xdd, 'paddusw'], [0xde, 'pmaxub'], [0xdf, 'pandn'],
    [0xe0, 'pavgb'], [0xe1, 'psraw'], [0xe2, 'psrad'], [0xe3, 'pavgw'], [0xe4, 'pmulhuw'], [0xe5, 'pmulhw'],
    [0xe8, 'psubsb'], [0xe9, 'psubsw'], [0xea, 'pminsw'], [0xeb, 'por'], [0xec, 'paddsb'], [0xed, 'paddsw'], [0xee, 'pmaxsw'], [0xef, 'pxor'],
    [0xf1, 'psllw'], [0xf2, 'pslld'], [0xf3, 'psllq'], [0xf4, 'pmuludq'], [0xf5, 'pmaddwd'], [0xf6, 'psadbw'],
    [0xf8, 'psubb'], [0xf9, 'psubw'], [0xfa, 'psubd'], [0xfb, 'psubq'], [0xfc, 'paddb'], [0xfd, 'paddw'], [0xfe, 'paddd'],
  ];
  // The SSE2 handler of each opcode's 66 form, from the entries made so far.
  const sse2 = new Map<number, OpcodeSpec>();
  for (const e of sseForms) if (e.prefix === P66) sse2.set(e.opcode, e);
  const via = (op: number, mpfx = P66, srcBytes = 8) => {
    const e = sse2.get(0x0f00 | op);
    if (!e?.exec) throw new Error(`no SSE2 form 66 0F ${op.toString(16)} for its MMX form`);
    return viaXmm(e.exec, mpfx, e.sub ?? 0, srcBytes);
  };
  for (const [op, m] of LANEWISE) add(0x0f00 | op, 0, m, 'Pq,Qq', via(op, P66, op <= 0x62 ? 4 : 8));
  for (const [op, m] of [[0x68, 'punpckhbw'], [0x69, 'punpckhwd'], [0x6a, 'punpckhdq']] as Array<[number, string]>) add(0x0f00 | op, 0, m, 'Pq,Qq', mmxUnpackHigh);
  add(0x0f63, 0, 'packsswb', 'Pq,Qq', mmxPack); add(0x0f67, 0, 'packuswb', 'Pq,Qq', mmxPack); add(0x0f6b, 0, 'packssdw', 'Pq,Qq', mmxPack);
  add(0x0f70, 0, 'pshufw', 'Pq,Qq,Ib', via(0x70, F2)); // as PSHUFLW on the low quadword
  add(0x0f71, 0, 'grp12', 'Nq,Ib', mmxShiftImm); add(0x0f72, 0, 'grp13', 'Nq,Ib', mmxShiftImm); add(0x0f73, 0, 'grp14', 'Nq,Ib', mmxShiftImm);
  add(0x0f6e, 0, 'movd', 'Pq,Ey', movdToMm); add(0x0f7e, 0, 'movd', 'Ey,Pq', movdFromMm);
  add(0x0f6f, 0, 'movq', 'Pq,Qq', movqToMm); add(0x0f7f, 0, 'movq', 'Qq,Pq', movqFromMm); add(0x0fe7, 0, 'movntq', 'Mq,Pq', movqFromMm);
  add(0x0f77, 0, 'emms', '', emms);
  add(0x0fc4, 0, 'pinsrw', 'Pq,Ew,Ib', pinsrwMm); add(0x0fc5, 0, 'pextrw', 'Gd,Nq,Ib', pextrwMm);
  add(0x0fd7, 0, 'pmovmskb', 'Gd,Nq', pmovmskbMm); add(0x0ff7, 0, 'maskmovq', 'Pq,Nq', maskmovq);
  add(0x0fd6, F3, 'movq2dq', 'Vdq,Nq', movq2dq); add(0x0fd6, F2, 'movdq2q', 'Pq,Uq', movq2dq);
  add(0x0f2a, 0, 'cvtpi2ps', 'Vps,Qpi', cvtpi2p); add(0x0f2a, P66, 'cvtpi2pd', 'Vpd,Qpi', cvtpi2p);
  add(0x0f2c, 0, 'cvttps2pi', 'Ppi,Wps', cvtp2pi); add(0x0f2c, P66, 'cvttpd2pi', 'Ppi,Wpd', cvtp2pi);
  add(0x0f2d, 0, 'cvtps2pi', 'Ppi,Wps', cvtp2pi); add(0x0f2d, P66, 'cvtpd2pi', 'Ppi,Wpd', cvtp2pi);
}

export const SIMD_OPCODES: readonly OpcodeSpec[] = simd();
