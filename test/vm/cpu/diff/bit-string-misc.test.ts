// Differential tests: BT/BTS/BTR/BTC, BSF/BSR, string instructions with REP prefixes
// in both directions, XCHG/XADD/CMPXCHG/CMPXCHG8B/16B, CMOVcc/SETcc/Jcc, moves and
// sign/zero extension, BSWAP, CBW family, LEA address forms, PUSH/POP and friends.
import { defineDiffSuite } from './suite.js';

defineDiffSuite('bit, string, exchange, conditions, moves, stack', ['bit', 'string', 'xchg', 'cond', 'move', 'lea', 'stack']);
