// Differential tests: the SSE2 forms gcc-built user space (busybox) uses: moves, logic,
// integer SIMD compare/min/max/unpack/shuffle/shift, PMOVMSKB, scalar double arithmetic,
// conversions and compares.
import { defineDiffSuite } from './suite.js';

defineDiffSuite('SSE2', ['sse2']);
