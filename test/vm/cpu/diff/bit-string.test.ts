// Differential tests: BT/BTS/BTR/BTC (register and immediate offsets, bit strings in
// memory), BSF/BSR with zero inputs, string instructions with REP/REPE/REPNE in both
// directions, XCHG/XADD/CMPXCHG/CMPXCHG8B/CMPXCHG16B.
import { defineDiffSuite } from './suite.js';

defineDiffSuite('bit, string, exchange', ['bit', 'string', 'xchg']);
