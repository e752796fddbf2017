// x87 opcode entries (D8-DF escape opcodes, Intel SDM Vol. 2 Appendix A.4). ModRM
// selects the operation; exec-x87.ts decodes the rest (A.4.1 memory forms, A.4.2
// register forms).

import { x87 } from './exec-x87.js';
import type { OpcodeSpec } from './opcodes.js';

export const X87_OPCODES: readonly OpcodeSpec[] = [0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf].map((opcode) => ({
  opcode, mnemonic: `esc${opcode - 0xd8}`, operands: 'Ex', exec: x87,
}));
