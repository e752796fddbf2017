#!/usr/bin/env bash
# qcow2 BlockDevice vs `qemu-img bench`, measured in the same run; prints ratios.
# Builds first (the benchmark runs the compiled dist/). Optional argument: scratch dir.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
npx tsc -p tsconfig.json >/dev/null || true # others' in-progress files must not stop the bench
node bench/storage/qcow2-bench.mjs "$@"
