#!/usr/bin/env bash
# Boot-to-marker wall time of Debian's kernels with the busybox report initramfs, under
# tsvirt's software CPU and the anchors QEMU TCG and (686 kernel only: v86 has no 64-bit
# mode) the v86 npm package, run one after the other in the same invocation on the same
# files; prints the times and the tsvirt/anchor ratios. A cell that is not a number is the
# engine's one-line reason (FAIL ...); "-" is an anchor skipped (v86 not installed). Also
# prints one BENCH-RESULT line a figure (bench/lib/result.sh) for bench/run-all.sh.
# Needs the fixtures (bash test/fixtures/prepare.sh), a build (npm run build) and the
# devDependencies (npm ci: v86).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
manifest="$root/test/fixtures/cache/manifest.env"
[ -f "$manifest" ] || { echo "ERROR $manifest missing; run bash test/fixtures/prepare.sh" >&2; exit 1; }
# shellcheck disable=SC1090
. "$manifest"
[ -f "$root/dist/vm/machine/index.js" ] || { echo "ERROR no build; run npm run build" >&2; exit 1; }
timeout_s=${BOOT_BENCH_TIMEOUT_S:-600}
# shellcheck source=../lib/result.sh
. "$root/bench/lib/result.sh"

run() { node "$here/boot-to-marker.mjs" "$@" "$BOOT_MARKER" "$timeout_s" || true; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.1fx", a / b; else print "n/a" }'; }

row='%-28s %10s %10s %10s %12s %12s\n'
echo "load: $(uptime | sed 's/.*load average: //')"
printf "$row" kernel tsvirt qemu-tcg v86 tsvirt/qemu tsvirt/v86
q64=$(run qemu-x86_64 "$KERNEL_CLOUD_AMD64" "$INITRAMFS_REPORT_AMD64")
t64=$(run tsvirt "$KERNEL_CLOUD_AMD64" "$INITRAMFS_REPORT_AMD64")
printf "$row" "cloud-amd64 (64-bit entry)" "$t64" "$q64" "-" "$(ratio "$t64" "$q64")" "-"
bench_result boot "cloud-amd64 (64-bit entry) to marker" "$t64" "QEMU TCG" "$q64" s lower
q32=$(run qemu-i386 "$KERNEL_686" "$INITRAMFS_REPORT_I386")
# A missing v86 anchor (the npm devDependency, or Debian's SeaBIOS) is skipped, not run.
v86_bios=${V86_BIOS:-/usr/share/seabios/bios.bin}
v86_skip=""
[ -f "$v86_bios" ] || v86_skip="skipped: no SeaBIOS at $v86_bios (Debian package seabios)"
[ -d "$root/node_modules/v86" ] || v86_skip="skipped: the v86 npm package is not installed (npm ci)"
if [ -z "$v86_skip" ]; then v32=$(run v86 "$KERNEL_686" "$INITRAMFS_REPORT_I386"); else v32="-"; fi
t32=$(run tsvirt "$KERNEL_686" "$INITRAMFS_REPORT_I386")
printf "$row" "686 (32-bit entry)" "$t32" "$q32" "$v32" "$(ratio "$t32" "$q32")" "$(ratio "$t32" "$v32")"
bench_result boot "686 (32-bit entry) to marker" "$t32" "QEMU TCG" "$q32" s lower
bench_result boot "686 (32-bit entry) to marker" "$t32" v86 "$v32" s lower ${v86_skip:+"$v86_skip"}
