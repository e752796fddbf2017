// Forms the software CPU does not implement yet, each with a one-line reason, so that the
// rest of the differential suite keeps guarding against regressions while CI stays green.
// A form listed here may fail; a form not listed must match the host CPU exactly. Remove an
// entry as soon as the form passes (the suite prints the entries that now pass).

const BCD = 'BCD adjust opcodes (27 2F 37 3F D4 D5) not implemented yet: invalid in 64-bit mode, only 32-bit code can use them';

export const KNOWN_GAPS: Readonly<Record<string, string>> = {
  '[32-bit] daa': BCD,
  '[32-bit] das': BCD,
  '[32-bit] aaa': BCD,
  '[32-bit] aas': BCD,
  '[32-bit] aam': BCD,
  '[32-bit] aam 7': BCD,
  '[32-bit] aam 0 (#DE)': BCD,
  '[32-bit] aad': BCD,
  '[32-bit] aad 3': BCD,
};
