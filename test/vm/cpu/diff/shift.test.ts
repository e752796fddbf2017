// Differential tests: shifts and rotates by 1, CL and immediates (counts 0, >= width,
// masked), SHLD/SHRD with register and immediate counts.
import { defineDiffSuite } from './suite.js';

defineDiffSuite('shift and rotate', ['shift']);
