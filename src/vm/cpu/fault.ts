// Architectural exceptions as the executor raises them (Intel SDM Vol. 3A §6.3, Table 6-1).
// A handler throws CpuFault; the run loop catches it once, at the instruction boundary,
// and delivers it through the IDT with the faulting instruction's RIP.
// Not modelled: exception priorities between simultaneous events inside one instruction
// (the first detected one wins), #MC, #VE, #CP.

export const Vector = {
  DE: 0, DB: 1, NMI: 2, BP: 3, OF: 4, BR: 5, UD: 6, NM: 7, DF: 8,
  TS: 10, NP: 11, SS: 12, GP: 13, PF: 14, MF: 16, AC: 17, MC: 18, XM: 19,
} as const;

/** Vectors that push an error code (SDM Vol. 3A §6.13). */
export function pushesErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17 || vector === 21;
}

/** Contributory exceptions for the double-fault rule (SDM Vol. 3A Table 6-5). */
export function isContributory(vector: number): boolean {
  return vector === 0 || (vector >= 10 && vector <= 13);
}

export class CpuFault {
  constructor(
    readonly vector: number,
    readonly errorCode: number = -1, // -1: the vector pushes none
  ) {}
}

/** An instruction this CPU does not implement (reported as a VcpuExit 'error', not #UD). */
export class UnimplementedError extends Error {
  override readonly name = 'UnimplementedError';
}

/** PF error-code bits (SDM Vol. 3A §4.7). */
export const PFEC_P = 1;
export const PFEC_W = 2;
export const PFEC_U = 4;
export const PFEC_RSVD = 8;
export const PFEC_I = 16;
