#!/usr/bin/env bash
# `img check` and `img convert` of very large sparse images (issue 15), tsvirt (the built
# bin/tsvirt) against qemu-img on the same files in the same run: wall time and peak
# resident memory (GNU time), best of ROUNDS rounds with the order alternating, and the
# ratio (above 1: tsvirt is faster / smaller). Prints a table and BENCH-RESULT lines
# (bench/lib/result.sh), two per case.
#   check 16 TiB file, 64 KiB clusters: a 16 TiB qcow2 with three writes far apart, its
#     file extended to 16 TiB - 1 MiB (ext4's limit is 16 TiB - 4 KiB): qemu-img check
#     counts every cluster of the file, the cost the issue is about.
#   check 16 TiB file, 512 B clusters: 100 GiB virtual (512-byte clusters address at most
#     128 GiB), same file length: 2^35 clusters, which qemu-img check refuses (File too
#     large), so that row has no ratio; the row after it checks the same tables before
#     the file was extended, where both can.
#   convert 1 PiB: empty to qcow2, empty to raw (on tmpfs, /dev/shm: ext4 cannot hold a
#     1 PiB file; skipped without it), and with four scattered writes to qcow2.
# Usage: bash bench/storage/sparse-bench.sh [SCRATCH_DIR]   (default: the OS temp dir)
# Environment: SPARSE_BENCH_ROUNDS (default 3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
# shellcheck source=../lib/result.sh
. bench/lib/result.sh

BENCH=sparse
CASES=(
  'check 16 TiB file, 64 KiB clusters'
  'check 16 TiB file, 512 B clusters'
  'check 100 GiB, 512 B clusters, file not extended'
  'convert 1 PiB empty to qcow2'
  'convert 1 PiB empty to raw'
  'convert 1 PiB scattered to qcow2'
)
skip_all() {
  local c
  for c in "${CASES[@]}"; do
    bench_result "$BENCH" "$c: time" - qemu-img - s lower "skipped: $1"
    bench_result "$BENCH" "$c: peak RSS" - qemu-img - MiB lower "skipped: $1"
  done
  exit 0
}
for tool in qemu-img qemu-io /usr/bin/time; do
  command -v "$tool" >/dev/null || skip_all "$tool is missing (Debian: ${tool##*/} from qemu-utils or time)"
done

npx tsc -p tsconfig.json >/dev/null || true # others' in-progress files must not stop the bench
tsvirt="$root/bin/tsvirt"
rounds=${SPARSE_BENCH_ROUNDS:-3}
work=$(mktemp -d "${1:-${TMPDIR:-/tmp}}/tsvirt-sparse-bench-XXXXXX")
shm=$(mktemp -d /dev/shm/tsvirt-sparse-bench-XXXXXX 2>/dev/null) || shm=""
trap 'rm -rf "$work" ${shm:+"$shm"}' EXIT

FILE_16T=$((16 * 2 ** 40 - 2 ** 20))
a64="$work/c64k.qcow2"
a512="$work/c512.qcow2"
a512short="$work/c512-short.qcow2"
empty="$work/empty-1p.qcow2"
scattered="$work/scattered-1p.qcow2"
qemu-img create -q -f qcow2 "$a64" 16T
qemu-io -c 'write -P 0x11 0 1M' -c 'write -P 0x22 8T 64k' -c 'write -P 0x33 16383G 128k' "$a64" >/dev/null
qemu-img create -q -f qcow2 -o cluster_size=512 "$a512short" 100G
qemu-io -c 'write -P 0x11 0 1M' -c 'write -P 0x22 50G 64k' -c 'write -P 0x33 99G 3k' "$a512short" >/dev/null
cp --sparse=always "$a512short" "$a512"
long_files=yes
truncate -s "$FILE_16T" "$a64" "$a512" 2>/dev/null || long_files=no
qemu-img create -q -f qcow2 "$empty" 1P
qemu-img create -q -f qcow2 "$scattered" 1P
qemu-io -c 'write -P 0x11 0 64k' -c 'write -P 0x22 1000G 3k' -c 'write -P 0x33 512T 1M' -c 'write -P 0x44 1125899906777088 64k' "$scattered" >/dev/null

# run_once SIDE CMD... -> sets SECS and KIB (empty on failure; ERR holds the reason).
# img check exits 0 for a clean image; anything else is a failure here (the images are clean).
run_once() {
  local t="$work/time.txt" status=0
  rm -f "$t"
  /usr/bin/time -f '%e %M' -o "$t" "$@" >/dev/null 2>"$work/stderr" || status=$?
  if [ "$status" -eq 0 ]; then
    read -r SECS KIB <"$t"
    ERR=""
  else
    SECS=""
    KIB=""
    ERR="exit $status: $(grep -v '^Command exited' "$work/stderr" | tail -n 1)"
  fi
}

# bench_case NAME DST QEMU_CMD... -- TSVIRT_CMD...: sets Q_SECS Q_KIB T_SECS T_KIB, the
# lowest of each over the rounds (Q_ERR/T_ERR: why a run failed), removing DST (the
# convert output, or "") before each run, then reports the case.
bench_case() {
  local name=$1 dst=$2 q_cmd t_cmd round first
  shift 2
  # The two command lines are separated by --.
  q_cmd=()
  while [ "$1" != -- ]; do q_cmd+=("$1"); shift; done
  shift
  t_cmd=("$@")
  Q_SECS="" Q_KIB="" T_SECS="" T_KIB="" Q_ERR="" T_ERR=""
  for ((round = 0; round < rounds; round++)); do
    for first in 0 1; do
      if [ $(((round + first) % 2)) -eq 0 ]; then
        rm -f -- ${dst:+"$dst"}
        run_once "${q_cmd[@]}"
        if [ -n "$SECS" ]; then
          Q_SECS=$(min "$Q_SECS" "$SECS")
          Q_KIB=$(min "$Q_KIB" "$KIB")
        else Q_ERR=$ERR; fi
      else
        rm -f -- ${dst:+"$dst"}
        run_once "${t_cmd[@]}"
        if [ -n "$SECS" ]; then
          T_SECS=$(min "$T_SECS" "$SECS")
          T_KIB=$(min "$T_KIB" "$KIB")
        else T_ERR=$ERR; fi
      fi
    done
  done
  rm -f -- ${dst:+"$dst"}
  report "$name"
}

min() { if [ -z "$1" ]; then echo "$2"; else awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 <= b + 0) ? a : b }'; fi; }
mib() { if [ -n "$1" ]; then awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; else echo -; fi; }

ROWS=()
RESULTS=()
# report NAME: one table row and the two BENCH-RESULT lines; a side that never ran
# cleanly makes the ratio field "failed: <side>: <reason>".
report() {
  local name=$1 note=""
  if [ -z "$T_SECS" ]; then note="failed: tsvirt: $T_ERR"
  elif [ -z "$Q_SECS" ]; then note="failed: qemu-img: $Q_ERR"; fi
  ROWS+=("$(printf '%-50s %10s %10s %10s %10s' "$name" "${Q_SECS:--}" "${T_SECS:--}" "$(mib "$Q_KIB")" "$(mib "$T_KIB")")")
  RESULTS+=("$(bench_result "$BENCH" "$name: time" "${T_SECS:--}" qemu-img "${Q_SECS:--}" s lower ${note:+"$note"})")
  RESULTS+=("$(bench_result "$BENCH" "$name: peak RSS" "$(mib "$T_KIB")" qemu-img "$(mib "$Q_KIB")" MiB lower ${note:+"$note"})")
}

skip_case() {
  ROWS+=("$(printf '%-50s %s' "$1" "$2")")
  RESULTS+=("$(bench_result "$BENCH" "$1: time" - qemu-img - s lower "$2")")
  RESULTS+=("$(bench_result "$BENCH" "$1: peak RSS" - qemu-img - MiB lower "$2")")
}

if [ "$long_files" = yes ]; then
  bench_case "${CASES[0]}" "" qemu-img check "$a64" -- "$tsvirt" img check "$a64"
  # qemu-img check refuses 2^35 clusters; the note keeps the row from counting as a failure.
  bench_case "${CASES[1]}" "" qemu-img check "$a512" -- "$tsvirt" img check "$a512"
  if [ -z "$Q_SECS" ] && [ -n "$T_SECS" ]; then
    ROWS[-1]="${ROWS[-1]}   (qemu-img: ${Q_ERR})"
    RESULTS[-2]=$(bench_result "$BENCH" "${CASES[1]}: time" "${T_SECS:--}" qemu-img - s lower "skipped: qemu-img check refuses a file of 2^35 clusters")
    RESULTS[-1]=$(bench_result "$BENCH" "${CASES[1]}: peak RSS" "$(mib "$T_KIB")" qemu-img - MiB lower "skipped: qemu-img check refuses a file of 2^35 clusters")
  fi
else
  skip_case "${CASES[0]}" "skipped: the scratch file system cannot hold a 16 TiB file"
  skip_case "${CASES[1]}" "skipped: the scratch file system cannot hold a 16 TiB file"
fi
bench_case "${CASES[2]}" "" qemu-img check "$a512short" -- "$tsvirt" img check "$a512short"
out="$work/out.qcow2"
bench_case "${CASES[3]}" "$out" qemu-img convert -O qcow2 "$empty" "$out" -- "$tsvirt" img convert -O qcow2 "$empty" "$out"
if [ -n "$shm" ]; then
  raw="$shm/out.raw"
  bench_case "${CASES[4]}" "$raw" qemu-img convert -O raw "$empty" "$raw" -- "$tsvirt" img convert -O raw "$empty" "$raw"
else
  skip_case "${CASES[4]}" "skipped: no /dev/shm (tmpfs) for a 1 PiB sparse raw file"
fi
bench_case "${CASES[5]}" "$out" qemu-img convert -O qcow2 "$scattered" "$out" -- "$tsvirt" img convert -O qcow2 "$scattered" "$out"

printf '%-50s %10s %10s %10s %10s\n' case 'qemu s' 'tsvirt s' 'qemu MiB' 'tsvirt MiB'
printf '%s\n' "${ROWS[@]}"
echo "best of $rounds alternating rounds each; peak RSS from GNU time (%M); load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s\n' "${RESULTS[@]}"
