#!/usr/bin/env bash
# kill -9 at random moments of a writer, `img resize` and `img convert`, tsvirt next to
# qemu-io / qemu-img on the same inputs; prints a table of counts per loop and image kind
# (see bench/storage/crash-loop.mjs for what is checked and the options: --runs, --seed,
# --loops, --kinds, --tools, --only-run, --dir). Builds first: the loops run the compiled dist/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
npx tsc -p tsconfig.json >/dev/null || true # others' in-progress files must not stop the bench
node scripts/oclif-manifest.mjs >/dev/null
node bench/storage/crash-loop.mjs "$@"
