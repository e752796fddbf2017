// Differential tests: shifts and rotates by 1, CL and immediates (counts 0, >= width,
// masked), SHLD/SHRD, MUL/IMUL in all forms, DIV/IDIV including #DE cases.
import { defineDiffSuite } from './suite.js';

defineDiffSuite('shift, rotate, multiply, divide', ['shift', 'muldiv']);
