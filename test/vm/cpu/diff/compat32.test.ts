// Differential tests in compatibility mode (32-bit code under long mode, as the 686
// kernel's and 32-bit processes' code runs): ALU, one-byte INC/DEC, BCD adjusts, INTO,
// PUSHA/POPA, 16-bit addressing, shifts, multiply/divide, strings, CMPXCHG8B.
import { defineDiffSuite } from './suite.js';

defineDiffSuite('32-bit code (compatibility mode)', ['compat32']);
