// x87 opcode entries (D8-DF escape opcodes, Intel SDM Vol. 2 Appendix A.4).

import type { OpcodeSpec } from './opcodes.js';

export const X87_OPCODES: readonly OpcodeSpec[] = [];
