#!/usr/bin/env bash
# Bundles the CPU benchmark with esbuild (from the TypeScript sources, no build step) and
# runs it from the repository root: prints instructions/s of tsvirt's CPU and of QEMU TCG
# (the anchor) on the same guest programs, and their ratio. Optional argument: a loop-name prefix.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
node_modules/.bin/esbuild bench/cpu/cpu-bench.ts --bundle --platform=node --format=esm --target=node20 --outfile="$out/cpu-bench.mjs" --log-level=warning
node "$out/cpu-bench.mjs" "$@"
