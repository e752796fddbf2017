#!/usr/bin/env bash
# CLI start-up times: the wall time of each whole process, tsvirt's commands next to the
# tools they stand in for (the anchors), measured in the same run:
#   bin/tsvirt version              qemu-img --version
#   bin/tsvirt img info FILE        qemu-img info FILE   (FILE: a fresh 1G qcow2 from qemu-img create)
#   bin/tsvirt ks validate FILE     ksvalidator FILE     (FILE: templates/kickstart/fedora-server.ks)
#   bin/tsvirt list --all           virsh --version, and virsh -c test:///default list --all
#                                   when the test driver works here without a daemon
#   bin/tsvirt-install --help       virt-install --help
# Each command runs once to warm up (page cache, Node's compile cache), then RUNS times
# (default 10); a round runs the commands of one row one after the other, so load from other
# work on the host falls on both sides alike. The figure is the median. Time is taken in
# this shell from $EPOCHREALTIME (no process is started to read the clock), just before the
# command is started and just after it has exited; its output goes to a file.
#
# Prints the load average at the start, a table (command, tsvirt median, anchor, anchor
# median, speed ratio = anchor/tsvirt: above 1 tsvirt is faster, and whether tsvirt meets its
# start-up target: 0.3 s, 0.5 s for tsvirt-install --help; a target not met is reported, not
# a failure), then one BENCH-RESULT line a row (bench/lib/result.sh) for bench/run-all.sh.
#
# Usage: bash bench/cli/cli-bench.sh [RUNS]      (bench/run-all.sh passes $BENCH_CLI_ARGS)
# Builds first (npm run build) only when dist/ or oclif.manifest.json is missing.
# Exit status: 0, also when an anchor is missing or fails (its row says "skipped: ...");
# 1 when a tsvirt command exits non-zero (its row says "failed: ..."); 2 on a usage error.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
# shellcheck source=../lib/result.sh
. bench/lib/result.sh

runs=${1:-10}
if [ $# -gt 1 ] || ! [[ $runs =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: bash bench/cli/cli-bench.sh [RUNS]   (RUNS: a positive integer, default 10)" >&2
  exit 2
fi

echo "cli-bench: load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"

if [ ! -d dist ] || [ ! -f oclif.manifest.json ]; then
  echo "cli-bench: dist/ or oclif.manifest.json is missing: npm run build"
  if ! npm run build; then
    echo "cli-bench: npm run build failed" >&2
    exit 1
  fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'echo "cli-bench: interrupted"; exit 130' INT TERM

# now_us: the wall clock in microseconds, without starting a process (bash 5's
# $EPOCHREALTIME; its decimal separator depends on the locale, so keep the digits only).
if [ -n "${EPOCHREALTIME:-}" ]; then
  now_us() { now=${EPOCHREALTIME//[!0-9]/}; }
else # older bash: date(1), whose start-up then falls partly inside the interval
  now_us() { now=$(date +%s%N); now=${now%???}; }
fi

# run_once ID CMD...: runs CMD once (stdin /dev/null, stdout and stderr to $work/ID.out);
# sets rc and us (its wall time in microseconds).
run_once() {
  local id=$1 t0
  shift
  now_us
  t0=$now
  "$@" >"$work/$id.out" 2>&1 </dev/null
  rc=$?
  now_us
  us=$((now - t0))
}

# what_went_wrong ID: the start of the last output of ID, on one line.
what_went_wrong() { tr -s '\n\t ' '   ' <"$work/$1.out" | cut -c1-160 | sed 's/ *$//'; }

# getcmd ID: copies the command of ID (the array cmd_ID) into the array cmd.
getcmd() {
  local -n src="cmd_$1"
  cmd=("${src[@]}")
}

# shown ID: the command of ID as the tables show it (without bin/; the temp files as FILE).
shown() {
  local cmd s
  getcmd "$1"
  s=${cmd[*]}
  s=${s#bin/}
  s=${s//"$imgfile"/FILE}
  s=${s//"$ksfile"/FILE}
  echo "$s"
}

# measure_row ID1 ID2...: each ID names an array cmd_ID (the command) and may be tsvirt's
# (the first) or an anchor's. One warm-up run each, then $runs rounds. Leaves in
# median[ID] the median in seconds, or in error[ID] why there is none.
declare -A median=() error=()
measure_row() {
  local id i live=()
  local cmd=()
  for id; do
    getcmd "$id"
    run_once "$id" "${cmd[@]}"
    if [ "$rc" -ne 0 ]; then
      error[$id]="exited $rc on the warm-up run: $(what_went_wrong "$id")"
    else
      live+=("$id")
      : >"$work/$id.times"
    fi
  done
  for ((i = 1; i <= runs; i++)); do
    local still=()
    for id in "${live[@]}"; do
      getcmd "$id"
      run_once "$id" "${cmd[@]}"
      if [ "$rc" -ne 0 ]; then
        error[$id]="exited $rc on run $i: $(what_went_wrong "$id")"
      else
        echo "$us" >>"$work/$id.times"
        still+=("$id")
      fi
    done
    live=("${still[@]}")
  done
  for id in "${live[@]}"; do
    median[$id]=$(sort -n "$work/$id.times" | awk '{ t[NR] = $1 }
      END { m = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2; printf "%.4f", m / 1e6 }')
  done
}

failed=0
rows=()    # the table rows, tab-separated: command, tsvirt, anchor, anchor median, ratio, target
results=() # the BENCH-RESULT lines

# report TSVIRT_ID TARGET_S ANCHOR_ID [SKIP_REASON]: one table row and one BENCH-RESULT line.
# With SKIP_REASON the anchor was not run.
report() {
  local t=$1 target=$2 a=$3 skip=${4:-}
  local label anchor metric ts av note ratio met
  label=$(shown "$t")
  anchor=$(shown "$a")
  metric="start: ${label% FILE}"
  ts=${median[$t]:--}
  av=${median[$a]:--}
  if [ -n "${error[$t]:-}" ]; then
    note="failed: tsvirt ${error[$t]}"
    failed=1
  elif [ -n "$skip" ]; then
    note="skipped: $skip"
  elif [ -n "${error[$a]:-}" ]; then
    note="skipped: $anchor ${error[$a]}"
  else
    note=""
  fi
  if [ "$ts" = - ]; then
    met="target $target s: no figure"
  elif awk -v m="$ts" -v t="$target" 'BEGIN { exit !(m <= t) }'; then
    met="target $target s: met"
  else
    met="target $target s: NOT met"
  fi
  results+=("$(bench_result cli "$metric" "$ts" "$anchor" "$av" s lower "$note")")
  ratio=$(cut -f8 <<<"${results[-1]}")
  rows+=("$label"$'\t'"$ts"$'\t'"$anchor"$'\t'"$av"$'\t'"$ratio"$'\t'"$met")
}

# The commands. An anchor that is not installed is not run; its row says why.
imgfile="$work/disk.qcow2"
ksfile=templates/kickstart/fedora-server.ks
if command -v qemu-img >/dev/null 2>&1; then
  if ! qemu-img create -q -f qcow2 "$imgfile" 1G; then
    echo "cli-bench: qemu-img create -q -f qcow2 $imgfile 1G failed" >&2
    exit 1
  fi
else # still time tsvirt's img info, on a qcow2 of its own making
  echo "cli-bench: qemu-img is not installed: the qcow2 comes from tsvirt img create"
  if ! bin/tsvirt img create -q -f qcow2 "$imgfile" 1G; then
    echo "cli-bench: FAILED: bin/tsvirt img create -q -f qcow2 $imgfile 1G exited non-zero" >&2
    exit 1
  fi
fi

cmd_t_version=(bin/tsvirt version)
cmd_a_version=(qemu-img --version)
cmd_t_info=(bin/tsvirt img info "$imgfile")
cmd_a_info=(qemu-img info "$imgfile")
cmd_t_ks=(bin/tsvirt ks validate "$ksfile")
cmd_a_ks=(ksvalidator "$ksfile")
cmd_t_list=(bin/tsvirt list --all)
cmd_a_list=(virsh --version)
cmd_a_list_test=(virsh -c test:///default list --all)
cmd_t_install=(bin/tsvirt-install --help)
cmd_a_install=(virt-install --help)

# row TSVIRT_ID TARGET_S ANCHOR_ID... : measures tsvirt's command with the anchors that are
# installed, then reports one line per anchor.
row() {
  local t=$1 target=$2 a ids=("$1") skips=()
  shift 2
  for a; do
    local cmd tool why=""
    getcmd "$a"
    tool=${cmd[0]}
    if ! command -v "$tool" >/dev/null 2>&1; then
      case $tool in
        ksvalidator) why="ksvalidator not installed (pykickstart is not packaged in Debian 12)" ;;
        *) why="$tool not installed" ;;
      esac
    elif [ "$a" = a_list_test ] && ! virsh -c test:///default list --all >/dev/null 2>&1 </dev/null; then
      why="virsh -c test:///default list --all does not work here"
    fi
    skips+=("$why")
    [ -n "$why" ] || ids+=("$a")
  done
  measure_row "${ids[@]}"
  local i=0
  for a; do
    report "$t" "$target" "$a" "${skips[$i]}"
    i=$((i + 1))
  done
  if [ -n "${median[$t]:-}" ]; then
    echo "cli-bench: $(shown "$t"): ${median[$t]} s (median of $runs runs)"
  else
    echo "cli-bench: $(shown "$t"): FAILED: ${error[$t]}"
  fi
}

echo "cli-bench: median wall time of $runs runs per command, after 1 warm-up run"
row t_version 0.3 a_version
row t_info 0.3 a_info
row t_ks 0.3 a_ks
row t_list 0.3 a_list a_list_test
row t_install 0.5 a_install

echo
{
  printf 'command\ttsvirt (s)\tanchor\tanchor (s)\tspeed ratio\ttarget\n'
  printf '%s\n' "${rows[@]}"
} | awk -F'\t' '
  { n++; for (i = 1; i <= NF; i++) { cell[n, i] = $i; if (length($i) > w[i]) w[i] = length($i) } nf[n] = NF }
  END {
    for (r = 1; r <= n; r++) {
      line = ""
      for (i = 1; i <= nf[r]; i++) {
        fmt = (i == 2 || i == 4) && r > 1 ? "%" w[i] "s" : i < nf[r] ? "%-" w[i] "s" : "%s"
        line = line sprintf(fmt, cell[r, i]) (i < nf[r] ? "  " : "")
      }
      print line
    }
  }'
echo "(speed ratio = anchor median / tsvirt median: above 1 tsvirt is faster)"
echo
printf '%s\n' "${results[@]}"
echo "cli-bench: load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$failed" -ne 0 ]; then
  echo "cli-bench: FAILED: a tsvirt command exited non-zero (see the failed rows)"
  exit 1
fi
