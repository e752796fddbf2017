// Differential tests: MUL/IMUL in all forms and sizes, DIV/IDIV including the #DE cases
// (divide by zero, quotient overflow), which both sides must report with the faulting RIP.
import { defineDiffSuite } from './suite.js';

defineDiffSuite('multiply and divide', ['muldiv']);
