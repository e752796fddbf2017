// The kickstart contract: parse (with %include), validate (ksvalidator-style problems),
// print (normalized), and prepare (find + fetch + validate for an install).
export type { Kickstart, KsCommand, KsScript, KsPackages, KsAddon, KsProblem, KsLocation, KsOptionValue } from './model.js';
export { formatProblem, lastCommand, allCommands } from './model.js';
export { parseKickstart, loadKickstart, MAX_INCLUDE_DEPTH, MAX_INCLUDES, MAX_EXPANDED_BYTES, MAX_EXPANDED_LINES, MAX_EXPANSION_MS } from './parser.js';
export type { ParseResult, ParseOptions } from './parser.js';
export { validateKickstartSource, validateKickstartText, crossCheck } from './validate.js';
export type { ValidationResult } from './validate.js';
export { printKickstart } from './print.js';
export { prepareKickstart, findKickstartArg, KickstartInvalidError } from './prepare.js';
export type { PrepareKickstartInput, PreparedKickstart } from './prepare.js';
export { shellSplit } from './shell-split.js';
