// Differential tests: x87 loads/stores/conversions of every size, rounding control,
// compares (status word and FCOMI flags), FCHS/FABS/FXCH/FCMOV/FPREM/FSCALE, constants,
// and arithmetic with precision control set to double.
import { defineDiffSuite } from './suite.js';

defineDiffSuite('x87', ['x87']);
