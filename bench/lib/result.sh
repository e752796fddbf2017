# shellcheck shell=bash
# The summary line every benchmark prints on stdout beside its own output, one per figure;
# bench/run-all.sh collects them (lines starting BENCH-RESULT) into its final table.
# Source this file from a bash bench; bench/lib/result.mjs prints the same line from Node.
#
#   BENCH-RESULT<TAB>bench<TAB>metric<TAB>tsvirt<TAB>anchor<TAB>anchor value<TAB>unit<TAB>ratio
#
# ratio is the speed ratio: how many times as fast as the anchor tsvirt is. It is
# tsvirt/anchor for rates (higher is better: MiB/s, instructions/s) and anchor/tsvirt for
# times (lower is better: seconds), so above 1 tsvirt is faster and below 1 it is slower
# (0.25: four times slower) whatever the unit. When there is no ratio the field says why:
# "skipped: <reason>" (this host cannot measure it; not a failure) or "failed: <reason>".
# Values are printed to 4 significant digits and ratios to 3; a value that is not a
# positive number is printed as "-".

# bench_result BENCH METRIC TSVIRT ANCHOR ANCHOR_VALUE UNIT higher|lower [NOTE]
#   higher|lower: which values of this unit are better. NOTE ("skipped: ..." or
#   "failed: ...") is the ratio field when a value is missing; without one, a missing or
#   non-numeric value (e.g. "FAIL timeout after 600s") becomes "failed: <who>: <value>".
bench_result() {
  if [ $# -lt 7 ] || { [ "$7" != higher ] && [ "$7" != lower ]; }; then
    echo "usage: bench_result BENCH METRIC TSVIRT ANCHOR ANCHOR_VALUE UNIT higher|lower [NOTE]" >&2
    return 2
  fi
  local f fields=()
  for f in "$@"; do
    f=${f//$'\t'/ }
    fields+=("${f//$'\n'/ }")
  done
  # Values go in through ARGV, which awk takes literally (-v would expand backslashes).
  awk 'function num(x) { return x ~ /^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ && x + 0 > 0 }
    function fmt(x) { if (!num(x)) return "-"; return x + 0 >= 9999.5 ? sprintf("%.0f", x) : sprintf("%.4g", x) }
    function why(x) { return (x == "" || x == "-") ? "no figure" : x }
    BEGIN {
      bench = ARGV[1]; metric = ARGV[2]; ts = ARGV[3]; anchor = ARGV[4]; av = ARGV[5]; unit = ARGV[6]
      better = ARGV[7]; note = (8 in ARGV) ? ARGV[8] : ""
      if (num(ts) && num(av)) { r = better == "lower" ? av / ts : ts / av; ratio = r >= 999.5 ? sprintf("%.0f", r) : sprintf("%.3g", r) }
      else if (note != "") ratio = note
      else if (!num(ts)) ratio = "failed: tsvirt: " why(ts)
      else ratio = "failed: " anchor ": " why(av)
      printf "BENCH-RESULT\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", bench, metric, fmt(ts), anchor, fmt(av), unit, ratio
    }' "${fields[@]}"
}
