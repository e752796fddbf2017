// Differential tests: ADD/OR/ADC/SBB/AND/SUB/XOR/CMP/TEST in every encoding and size
// (register, immediate, short accumulator, memory, LOCK), INC/DEC/NEG/NOT.
import { defineDiffSuite } from './suite.js';

defineDiffSuite('integer ALU', ['alu', 'unary']);
