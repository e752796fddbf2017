#!/usr/bin/env bash
# Bundles the CPU benchmark with esbuild (the TypeScript sources, no build step) and runs it.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
npx --no-install esbuild bench/cpu/cpu-bench.ts --bundle --platform=node --format=esm --target=node20 --outfile="$out/cpu-bench.mjs" --log-level=warning
node "$out/cpu-bench.mjs" "$@"
