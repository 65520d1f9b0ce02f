#!/usr/bin/env bash
# hg::cron::Schedule::Next vs npm croner's nextRun on the same expressions, zones and walk.
# Builds nothing: expects a release build (default build/release, override with HG_BENCH_BUILD)
# and `npm ci` done in bench/croner (scripts/setup does it). Takes the median of REPS
# repetitions on each side and prints the ratio.
# Usage: bench/cron_vs_croner.sh [REPS]     (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-5}
build=${HG_BENCH_BUILD:-build/release}
bench="$build/bench/cron_bench"
if [[ ! -x "$bench" ]]; then
  echo "cron_vs_croner: $bench not found; build it first: cmake --preset release && cmake --build --preset release --target cron_bench" >&2
  exit 1
fi
if [[ ! -f bench/croner/node_modules/croner/package.json ]]; then
  echo "cron_vs_croner: croner is not installed: run scripts/setup (or npm ci in bench/croner)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bench" --benchmark_filter='BM_Next' --benchmark_repetitions="$reps" \
  --benchmark_min_time=0.5 --benchmark_format=json >"$tmp/ours.json" 2>/dev/null
node bench/croner/bench.mjs "$reps" 0.5 >"$tmp/croner.jsonl"

node - "$tmp/ours.json" "$tmp/croner.jsonl" "$reps" <<'JS'
const fs = require('fs');
const [oursPath, cronerPath, reps] = process.argv.slice(2);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ours = new Map();
const oursCpu = new Map();
for (const b of JSON.parse(fs.readFileSync(oursPath, 'utf8')).benchmarks) {
  if (b.run_type !== 'iteration') continue;
  const name = b.run_name.replace(/^BM_Next\//, '').replace(/\/real_time$/, '');
  if (!ours.has(name)) ours.set(name, []), oursCpu.set(name, []);
  ours.get(name).push(b.items_per_second);  // wall time (UseRealTime)
  oursCpu.get(name).push(1e9 / b.cpu_time);  // cpu_time is ns per Next() call
}
const fmt = (x) => x >= 1e6 ? `${(x / 1e6).toFixed(2)} M/s` : `${(x / 1e3).toFixed(1)} k/s`;
console.log(`median of ${reps} repetitions, Next() calls per second, one thread;`);
console.log('wall = elapsed time, cpu = CPU time of the process (steadier on a loaded machine)');
console.log('| zone / expression | hg::cron wall | croner wall | ratio | hg::cron cpu | croner cpu | ratio |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
let worst = Infinity;
for (const line of fs.readFileSync(cronerPath, 'utf8').trim().split('\n')) {
  const { name, ops, cpuOps } = JSON.parse(line);
  if (!ours.has(name)) throw new Error(`no hg::cron figure for ${name}`);
  const a = median(ours.get(name)), b = median(ops);
  const c = median(oursCpu.get(name)), d = median(cpuOps);
  worst = Math.min(worst, a / b, c / d);
  console.log(`| \`${name}\` | ${fmt(a)} | ${fmt(b)} | ${(a / b).toFixed(0)}x ` +
              `| ${fmt(c)} | ${fmt(d)} | ${(c / d).toFixed(0)}x |`);
}
console.log(`lowest ratio: ${worst.toFixed(0)}x`);
JS
