// Differential tests: CMOVcc/SETcc/Jcc for all sixteen conditions, JRCXZ/LOOP, moves and
// sign/zero extension, BSWAP, the CBW family, LAHF/SAHF, XLAT, LEA address forms
// (RIP-relative, 32-bit address size), PUSH/POP/PUSHF/POPF/ENTER/LEAVE/CALL/RET, NOP and
// hint forms (multi-byte NOP, ENDBR64, PAUSE), fences, CLFLUSH, MOVNTI.
import { defineDiffSuite } from './suite.js';

defineDiffSuite('conditions, moves, LEA, stack, misc', ['cond', 'move', 'lea', 'stack', 'misc']);
