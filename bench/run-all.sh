#!/usr/bin/env bash
# Runs every benchmark in bench/, one after the other (never two at once), each showing its
# own output as it goes, then prints ONE summary table: each tsvirt figure beside its anchor
# measured in the same run (QEMU TCG, qemu-img/qemu-io, v86, QEMU slirp, the C KVM loop, ...)
# and the ratio. `npm run bench` builds first and then runs this script.
#
# The table is built from the lines each bench prints on stdout (bench/lib/result.sh and
# bench/lib/result.mjs print them):
#   BENCH-RESULT<TAB>bench<TAB>metric<TAB>tsvirt<TAB>anchor<TAB>anchor value<TAB>unit<TAB>ratio
#
# RATIO CONVENTION: the ratio is the speed ratio, how many times as fast as its anchor
# tsvirt is: tsvirt/anchor for rates (MiB/s, instructions/s, exits/s: higher is better)
# and anchor/tsvirt for times (seconds: lower is better). So for every row, whatever the
# unit, above 1 means tsvirt is faster than the anchor and below 1 slower (0.25: four times
# slower). Where there is no ratio the field says why: "skipped: <reason>" (this host
# cannot run it: no usable /dev/kvm, not root, a missing tool or anchor; not a failure) or
# "failed: <reason>".
#
# Before the benches: `bash scripts/prerequisites.sh bench` (checks, and as root installs,
# the Debian tools), and `bash test/fixtures/prepare.sh` if test/fixtures/cache/manifest.env
# is missing (the boot and virtio benches boot its Debian kernels).
#
# Exit status: 0 when no bench failed; 1 when a bench exited non-zero, printed no result,
# or printed a "failed:" row (the table is printed first either way). Skipped rows do not
# count as failures. 130 when interrupted.
#
# Optional environment (each bench's own arguments, word-split; unset = its defaults):
#   BENCH_CPU_ARGS          bench/cpu/run.sh [loop-name prefix]  (default: all loops)
#   BENCH_KVM_PIO_ARGS      bench/kvm/pio-exits.ts [EXITS]          (default 200000)
#   BENCH_KVM_MACHINE_ARGS  bench/kvm/machine-exits.ts [EXITS]      (default 100000)
#   BENCH_QCOW2_ARGS        bench/storage/qcow2-bench.sh [SCRATCH_DIR] (default: the OS temp dir)
#   BENCH_SPARSE_ARGS       bench/storage/sparse-bench.sh [SCRATCH_DIR] (default: the OS temp dir)
#   BENCH_NET_ARGS          bench/net/user-nat-wget.ts [MiB] [rounds]  (default 64 3)
#   BENCH_CLI_ARGS          bench/cli/cli-bench.sh [...]
#   BENCH_VIRTIO_ARGS       bench/storage/virtio-guest-bench.ts [DD_MiB] [WGET_MiB] (default 64 10)
#   BOOT_BENCH_TIMEOUT_S    bench/boot/boot-bench.sh's timeout per boot (default 600)
#   BENCH_ONLY              space-separated bench ids to run, e.g. "cpu kvm-pio"; default all
# Bench ids, in the order they run (the quick ones first): cpu kvm-pio kvm-machine qcow2
# sparse net cli boot virtio-guest.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=lib/result.sh
. bench/lib/result.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results="$work/results.tsv"
: >"$results"
failed=0
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
echo "run-all: load average at start: $(loadavg) ($(nproc) CPUs)"

trap 'echo "run-all: interrupted"; exit 130' INT TERM

selected() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }

# Debian tools. When some cannot be installed (not root, no apt-get) the script says which;
# the benches that need them are then skipped below, each with the reason.
bash scripts/prerequisites.sh bench || echo "run-all: the prerequisites are incomplete (above); benches missing a tool are skipped"

fixtures_error=""
if { selected boot || selected virtio-guest; } && [ ! -f test/fixtures/cache/manifest.env ]; then
  echo "run-all: test/fixtures/cache/manifest.env is missing: bash test/fixtures/prepare.sh"
  bash test/fixtures/prepare.sh || fixtures_error="failed: bash test/fixtures/prepare.sh failed (exit $?), no fixture kernels"
fi

# Checks of what a bench needs: each prints why the bench cannot run here ("skipped: ..."
# when this host cannot, "failed: ..." when this tree is broken), or nothing.
needs_tools() {
  local t missing=()
  for t; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  [ ${#missing[@]} -eq 0 ] || echo "skipped: missing ${missing[*]} (as root, bash scripts/prerequisites.sh bench installs the listed ones)"
}
needs_kvm() { ( exec 3<>/dev/kvm ) 2>/dev/null || echo "skipped: /dev/kvm does not open read-write on this host"; }
needs_root() { [ "$(id -u)" -eq 0 ] || echo "skipped: needs root (network namespaces, tap devices)"; }
needs_tun() { [ -c /dev/net/tun ] || echo "skipped: no /dev/net/tun"; }
needs_netns() { # root in a container may still lack the right to make one
  local ns="tsvirt-run-all-probe-$$"
  if ip netns add "$ns" 2>/dev/null; then ip netns del "$ns"; else echo "skipped: cannot create a network namespace (ip netns add)"; fi
}
needs_fixtures() {
  if [ -n "$fixtures_error" ]; then echo "$fixtures_error"
  elif [ ! -f test/fixtures/cache/manifest.env ]; then echo "failed: no test/fixtures/cache/manifest.env"; fi
}
needs_build() { [ -f dist/vm/machine/index.js ] || echo "failed: no build in dist/ (npm run bench builds first; or npm run build)"; }
needs_file() { [ -f "$1" ] || echo "failed: $1 does not exist"; }

# bench ID ANCHOR CHECKS ARGS_VAR COMMAND...
#   Runs COMMAND plus the words of $ARGS_VAR (ARGS_VAR may be empty), showing its output and
#   collecting its BENCH-RESULT lines, unless one of CHECKS (check commands separated by
#   ";") gives a reason: then one row with that reason stands for the bench. ANCHOR names
#   the anchor on such rows.
bench() {
  local id=$1 anchor=$2 checks=$3 args_var=$4
  shift 4
  selected "$id" || return 0
  local reason="" check
  local -a check_list=()
  IFS=';' read -r -a check_list <<<"$checks"
  for check in "${check_list[@]}"; do
    reason=$(eval "$check")
    [ -z "$reason" ] || break
  done
  if [ -n "$reason" ]; then
    echo
    echo "=== $id: $reason"
    bench_result "$id" "(not run)" - "$anchor" - - higher "$reason" >>"$results"
    case "$reason" in failed:*) failed=1 ;; esac
    return 0
  fi
  local -a extra=()
  [ -z "$args_var" ] || read -r -a extra <<<"${!args_var:-}"
  local log="$work/$id.log" start rc lines
  echo
  echo "=== $id: $*${extra[*]:+ ${extra[*]}} (started $(date +%T), load average $(loadavg))"
  start=$SECONDS
  "$@" "${extra[@]}" | tee "$log"
  rc=${PIPESTATUS[0]}
  echo "=== $id: exit status $rc after $((SECONDS - start)) s"
  lines=$(grep -a '^BENCH-RESULT' "$log")
  if [ -n "$lines" ]; then
    # A malformed line (not 8 fields) becomes a failed row of its own.
    awk -F'\t' -v id="$id" 'NF == 8 { print; next } { printf "BENCH-RESULT\t%s\t(malformed result line)\t-\t-\t-\t-\tfailed: %d fields, not 8: %s\n", id, NF, substr($0, 1, 80) }' <<<"$lines" >>"$results"
  fi
  if [ "$rc" -ne 0 ]; then
    bench_result "$id" "(whole bench)" - "$anchor" - - higher "failed: exit status $rc (its output is above)" >>"$results"
    failed=1
  elif [ -z "$lines" ]; then
    bench_result "$id" "(whole bench)" - "$anchor" - - higher "failed: exited 0 without a BENCH-RESULT line" >>"$results"
    failed=1
  fi
}

bench cpu "QEMU TCG" "needs_tools as ld qemu-system-x86_64" \
  BENCH_CPU_ARGS bash bench/cpu/run.sh
bench kvm-pio "C KVM_RUN loop" "needs_build; needs_kvm; needs_tools gcc as ld" \
  BENCH_KVM_PIO_ARGS npx vite-node bench/kvm/pio-exits.ts
bench kvm-machine "C KVM_RUN loop" "needs_build; needs_kvm; needs_tools gcc as ld" \
  BENCH_KVM_MACHINE_ARGS npx vite-node bench/kvm/machine-exits.ts
bench qcow2 "qemu-img bench, qemu-io" "needs_tools qemu-img qemu-io" \
  BENCH_QCOW2_ARGS bash bench/storage/qcow2-bench.sh
bench sparse "qemu-img check/convert" "needs_tools qemu-img qemu-io /usr/bin/time" \
  BENCH_SPARSE_ARGS bash bench/storage/sparse-bench.sh
bench net "QEMU slirp" "needs_root; needs_tools ip busybox qemu-system-x86_64; needs_tun; needs_netns" \
  BENCH_NET_ARGS npx vite-node bench/net/user-nat-wget.ts
bench cli "its anchors" "needs_file bench/cli/cli-bench.sh" \
  BENCH_CLI_ARGS bash bench/cli/cli-bench.sh
bench boot "QEMU TCG, v86" "needs_fixtures; needs_build; needs_tools qemu-system-x86_64 qemu-system-i386" \
  "" bash bench/boot/boot-bench.sh
bench virtio-guest "QEMU TCG" "needs_fixtures; needs_build; needs_tools qemu-system-x86_64" \
  BENCH_VIRTIO_ARGS npx vite-node bench/storage/virtio-guest-bench.ts

# A row a bench printed as failed (a boot that timed out, ...) fails the run too.
if awk -F'\t' '$8 ~ /^failed:/ { found = 1 } END { exit !found }' "$results"; then failed=1; fi

echo
echo "=== summary: speed ratio = how many times as fast as its anchor tsvirt is (tsvirt/anchor"
echo "    for rates, anchor/tsvirt for times): above 1 tsvirt is faster, below 1 slower"
{
  printf 'BENCH-RESULT\tbench\tmetric\ttsvirt\tanchor\tanchor value\tunit\tspeed ratio\n'
  cat "$results"
} | awk -F'\t' '
  { n++; for (i = 2; i <= 8; i++) { cell[n, i] = $i; if (i < 8 && length($i) > w[i]) w[i] = length($i) } }
  END {
    for (r = 1; r <= n; r++) {
      line = ""
      for (i = 2; i < 8; i++) {
        # numbers right-aligned, text left-aligned
        fmt = (i == 4 || i == 6) && r > 1 ? "%" w[i] "s  " : "%-" w[i] "s  "
        line = line sprintf(fmt, cell[r, i])
      }
      print line cell[r, 8]
    }
  }'
echo "run-all: load average at end: $(loadavg)"
if [ "$failed" -ne 0 ]; then
  echo "run-all: FAILED: see the failed rows above"
  exit 1
fi
