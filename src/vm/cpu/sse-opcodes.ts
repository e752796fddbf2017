// SSE/SSE2 opcode entries (Intel SDM Vol. 2 Appendix A, 0F map with mandatory prefixes).
// Filled in by exec-sse.ts; see that file for what is implemented.

import type { OpcodeSpec } from './opcodes.js';

export const SIMD_OPCODES: readonly OpcodeSpec[] = [];
