#!/usr/bin/env node
// Markdown tables for BENCHMARKS.md from bench.mjs result files: one row per system and load,
// before and after side by side when two files are given.
//   node bench/http/report.mjs after.json [before.json]
import fs from 'node:fs';

const [afterFile, beforeFile] = process.argv.slice(2);
if (!afterFile) {
  console.error('usage: node bench/http/report.mjs after.json [before.json]');
  process.exit(2);
}
const after = JSON.parse(fs.readFileSync(afterFile, 'utf8'));
const before = beforeFile ? JSON.parse(fs.readFileSync(beforeFile, 'utf8')) : null;
const find = (rep, s) => rep?.systems.find((x) => x.mode === s.mode && x.load === s.load)?.median ?? {};
const name = (s) => `${s.mode === 'dev' ? 'dev (SQLite)' : 'master + 1 etcd'}${s.load ? `, ${s.load} jobs/s firing` : ''}`;
const both = (a, b, f = (x) => x) => (before ? `${f(a)} (${b === undefined ? '–' : f(b)})` : `${f(a)}`);

console.log(`${after.date} · ${after.machine.cpus} × ${after.machine.model} · reps ${after.config.reps} × ${after.config.seconds} s` +
  (before ? ' · after (before)' : ''));
console.log('\n(a) 200 keep-alive clients, GET /jobs/{name}\n');
console.log('| system | wrk req/s | wrk p99 ms | wrk timeouts | answers per client min / median / max | clients starved |');
console.log('|---|---|---|---|---|---|');
for (const s of after.systems) {
  const a = s.median;
  const b = find(before, s);
  console.log(`| ${name(s)} | ${both(a.a_rps, b.a_rps)} | ${both(a.a_p99_ms, b.a_p99_ms)} | ${both(a.a_timeouts, b.a_timeouts)} | ` +
    `${both(`${a.a_min} / ${a.a_median} / ${a.a_max}`, b.a_min === undefined ? undefined : `${b.a_min} / ${b.a_median} / ${b.a_max}`)} | ${both(a.a_starved, b.a_starved)} |`);
}
console.log('\n(b) wrk -c64 GET /healthz vs the minimal C server, same run\n');
console.log('| system | Hourglass req/s | C server req/s | ratio |');
console.log('|---|---|---|---|');
for (const s of after.systems) {
  const a = s.median;
  const b = find(before, s);
  // The median of the per-repetition ratios; below 0.01 (two digits would say 0), the ratio of
  // the medians with three.
  const ratio = (m) => (m.b_ratio === undefined ? undefined : m.b_ratio >= 0.01 ? m.b_ratio : (m.b_hourglass_rps / m.b_c_rps).toFixed(3));
  console.log(`| ${name(s)} | ${both(a.b_hourglass_rps, b.b_hourglass_rps)} | ${both(a.b_c_rps, b.b_c_rps)} | ${both(ratio(a), ratio(b))} |`);
}
console.log('\n(c) 1,000 POST /jobs/ from 50 keep-alive clients\n');
console.log('| system | wall s | registered | p99 ms per request | runs/s finished meanwhile |');
console.log('|---|---|---|---|---|');
for (const s of after.systems) {
  const a = s.median;
  const b = find(before, s);
  console.log(`| ${name(s)} | ${both(a.c_wall_s, b.c_wall_s)} | ${both(a.c_ok, b.c_ok)} | ${both(a.c_p99_ms, b.c_p99_ms)} | ${both(a.executions_per_s, b.executions_per_s)} |`);
}
