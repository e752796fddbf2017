// Differential tests: MMX (all 0F 6x/7x/Dx/Ex/Fx integer forms on mm registers, MOVD/MOVQ,
// EMMS), SSE's MMX extensions (PSHUFW, PINSRW/PEXTRW, PMOVMSKB, MASKMOVQ, MOVNTQ, ...),
// SSE2's MOVQ2DQ/MOVDQ2Q and CVT*PI*, and the x87 aliasing (TOP, tags, FXSAVE, FSTP m80).
import { defineDiffSuite } from './suite.js';

defineDiffSuite('MMX', ['mmx']);
