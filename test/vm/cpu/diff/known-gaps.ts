// Forms the software CPU does not implement yet, each with a one-line reason, so that the
// rest of the differential suite keeps guarding against regressions while CI stays green.
// A form listed here may fail; a form not listed must match the host CPU exactly. Remove an
// entry as soon as the form passes (the suite prints the entries that now pass).

export const KNOWN_GAPS: Readonly<Record<string, string>> = {};
