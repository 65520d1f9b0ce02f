#!/usr/bin/env node
// Run-path end-to-end benchmarks of Hourglass (issue 12 "What to build" items 2 and 5).
// One command per benchmark; each starts what it needs and stops it by itself. See README.md.
//
//   node bench/run_path/bench.mjs fire-lag   --mode dev|etcd --n 100 [--window 20]
//   node bench/run_path/bench.mjs peer       --n 100 [--window 20]
//   node bench/run_path/bench.mjs http-limit [--connections 16] [--seconds 5]
//   node bench/run_path/bench.mjs shell      --mode dev|etcd --n 100,300,500 [--window 20]
//   node bench/run_path/bench.mjs sustain    --system dev|etcd|peer --lo 100 --hi 1000 [--steps 4]
//   node bench/run_path/bench.mjs all        [--n 10,100,1000] [--reps 3] [--systems dev,etcd,peer]
//   node bench/run_path/bench.mjs smoke      --hourglass build/asan-ubsan/src/app/hourglass
//
// Common options: --hourglass PATH (env HG_BENCH_HOURGLASS), --receiver PATH, --spawn-loop PATH,
// --capacity 16, --tail 6, --out DIR (results), --keep (keep run folders), --log-level info,
// --reg-concurrency 4, --run-timeout S, --max-minutes M.
// Store growth (Hourglass runs): --history-limit N (the jobs' history_limit; default the job
// default, 100), --compact-retention D (passed to `hourglass master|dev`; default theirs),
// --db-sample S (DB size sampled every S s of the window into the results; default 10, 0 = off).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runHourglass, startReceiver } from './hourglass.mjs';
import { killAllChildren, log, median, round, runSync, diskTempDir } from './lib.mjs';
import { runPeer } from './peer.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');

// ---------------------------------------------------------------- options
function parseArgs(argv) {
  const opts = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      opts._.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) opts[a.slice(2, eq)] = a.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) opts[a.slice(2)] = argv[++i];
    else opts[a.slice(2)] = true;
  }
  return opts;
}

const args = parseArgs(process.argv.slice(2));
const command = args._[0];
const list = (v, dflt) => String(v ?? dflt).split(',').filter(Boolean);
const nums = (v, dflt) => list(v, dflt).map(Number);

function findBinary(flag, env, candidates) {
  const given = args[flag] ?? process.env[env];
  if (given) {
    if (!fs.existsSync(given)) throw new Error(`--${flag} ${given}: not found`);
    return path.resolve(given);
  }
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new Error(`no ${flag} binary: pass --${flag} PATH or set ${env} (looked in ${candidates.join(', ')})`);
}

function settings() {
  const hourglass = findBinary('hourglass', 'HG_BENCH_HOURGLASS', [path.join(repo, 'build/release/src/app/hourglass')]);
  const near = (name) => [
    path.join(path.dirname(hourglass), '../../bench', name), // same build tree as the binary
    path.join(repo, 'build/bench-helper/bench', name),
    path.join(repo, 'build/release/bench', name),
  ];
  const s = {
    hourglass,
    receiver: findBinary('receiver', 'HG_BENCH_RECEIVER', near('hg_receiver')),
    spawnLoop: () => findBinary('spawn-loop', 'HG_BENCH_SPAWN_LOOP', near('hg_spawn_loop')),
    capacity: Number(args.capacity ?? 16),
    windowS: Number(args.window ?? 20),
    tailS: Number(args.tail ?? 6),
    logLevel: args['log-level'] ?? 'info',
    regConcurrency: Number(args['reg-concurrency'] ?? 4),
    historyLimit: args['history-limit'] !== undefined ? Number(args['history-limit']) : undefined,
    compactRetention: args['compact-retention'] !== undefined ? String(args['compact-retention']) : undefined,
    dbSampleS: Number(args['db-sample'] ?? 10),
    keep: Boolean(args.keep),
    out: path.resolve(args.out ?? path.join(os.tmpdir(), `hg-run-path-${new Date().toISOString().replace(/[:.]/g, '-')}`)),
  };
  fs.mkdirSync(s.out, { recursive: true });
  s.workDir = diskTempDir('hg-run-path-');
  process.on('exit', killAllChildren);
  if (!s.keep) process.on('exit', () => fs.rmSync(s.workDir, { recursive: true, force: true }));
  return s;
}

function commitOf(bin) {
  // The binary's own version string, and the commit of the tree it was built from.
  const version = runSync(bin, ['version']).stdout.trim().split('\n')[0];
  let tree = path.dirname(bin);
  while (tree !== '/' && !fs.existsSync(path.join(tree, '.git'))) tree = path.dirname(tree);
  let commit = '';
  try {
    if (tree !== '/') commit = runSync('git', ['-C', tree, 'rev-parse', '--short', 'HEAD']).stdout.trim();
  } catch {}
  return { version, commit, tree };
}

function machine() {
  const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? '?';
  let etcd = '';
  try {
    etcd = runSync('etcd', ['--version']).stdout.split('\n')[0];
  } catch {}
  return { cpus: os.cpus().length, cpu, kernel: os.release(), node: process.version, etcd };
}

// ---------------------------------------------------------------- bounded runs
async function bounded(what, timeoutS, fn) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutS * 1000);
  });
  const p = fn();
  const r = await Promise.race([p, timeout]);
  clearTimeout(timer);
  if (r !== 'timeout') return r;
  log(`${what}: over its ${timeoutS} s bound; stopping every process of the run`);
  killAllChildren();
  const late = await Promise.race([p, new Promise((res) => setTimeout(() => res(null), 60000))]);
  return { ...(late ?? {}), ok: false, error: `timeout after ${timeoutS} s`, timed_out: true };
}

function runTimeoutS(s, n) {
  return Number(args['run-timeout'] ?? 120 + s.windowS + s.tailS + n * 0.15);
}

function hourglassCfg(s, mode, n, extra = {}) {
  return { mode, n, windowS: s.windowS, tailS: s.tailS, executor: 'http', hourglass: s.hourglass, receiver: s.receiver, capacity: s.capacity, logLevel: s.logLevel, regConcurrency: s.regConcurrency, historyLimit: s.historyLimit, compactRetention: s.compactRetention, dbSampleS: s.dbSampleS, workDir: s.workDir, keep: s.keep, out: s.out, ...extra };
}

async function runSystem(s, system, n, extra = {}) {
  const what = `${system} n=${n}`;
  const r = await bounded(what, runTimeoutS(s, n), () => (system === 'peer'
    ? runPeer({ n, windowS: s.windowS, tailS: s.tailS, capacity: s.capacity, receiver: s.receiver, workDir: s.workDir, keep: s.keep, out: s.out })
    : runHourglass(hourglassCfg(s, system, n, extra))));
  r.system ??= system === 'peer' ? 'bullmq' : `hourglass-${system}`;
  r.n ??= n;
  return r;
}

async function wrk(s, connections, seconds = 5) {
  const dir = fs.mkdtempSync(path.join(s.workDir, 'wrk-'));
  const receiver = await startReceiver(s.receiver, dir);
  try {
    const r = runSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, `${receiver.url}/nolog`], { timeout: (seconds + 30) * 1000 });
    const rate = Number((/Requests\/sec:\s*([\d.]+)/.exec(r.stdout) ?? [])[1]);
    if (!rate) throw new Error(`wrk failed: ${r.stdout}${r.stderr}`);
    return { system: 'wrk', connections, seconds, requests_per_s: Math.round(rate), load_avg: Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]) };
  } finally {
    await receiver.stop(2000);
  }
}

// ---------------------------------------------------------------- reporting
const fmt = (x, digits = 0) => (x === null || x === undefined || Number.isNaN(x) ? '—' : Number(x).toFixed(digits));
const ms = (x) => (x === null || x === undefined ? '—' : x >= 10000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)}`);

function medianOf(runs, get) {
  return median(runs.filter((r) => r.ok).map(get).filter((v) => v !== null && v !== undefined));
}

// Medians over repetitions of one (system, N).
function aggregate(runs) {
  const ok = runs.filter((r) => r.ok);
  const cpuKeys = [...new Set(ok.flatMap((r) => Object.keys(r.cpu_s ?? {})))];
  return {
    system: runs[0].system,
    n: runs[0].n,
    reps: ok.length,
    failed: runs.length - ok.length,
    start_p50: medianOf(runs, (r) => r.start_lag_ms?.p50),
    start_p90: medianOf(runs, (r) => r.start_lag_ms?.p90),
    start_p99: medianOf(runs, (r) => r.start_lag_ms?.p99),
    start_max: medianOf(runs, (r) => r.start_lag_ms?.max),
    e2e_p50: medianOf(runs, (r) => r.e2e_lag_ms?.p50),
    e2e_p99: medianOf(runs, (r) => r.e2e_lag_ms?.p99),
    expected: medianOf(runs, (r) => r.expected),
    recorded: medianOf(runs, (r) => r.recorded),
    received: medianOf(runs, (r) => r.received),
    missed: medianOf(runs, (r) => r.missed),
    duplicates: Math.max(0, ...ok.map((r) => r.duplicates ?? 0)), // worst repetition, not median
    left: medianOf(runs, (r) => (r.left_scheduled ?? 0) + (r.left_running ?? 0)),
    completed_per_s: medianOf(runs, (r) => r.completed_per_s),
    store_writes_per_run: medianOf(runs, (r) => r.store_writes_per_run),
    proposals_per_run: medianOf(runs, (r) => r.proposals_per_run),
    db_bytes_per_run: medianOf(runs, (r) => r.db_bytes_per_run),
    cpu_s: Object.fromEntries(cpuKeys.map((k) => [k, round(medianOf(runs, (r) => r.cpu_s?.[k]), 1)])),
    load: medianOf(runs, (r) => r.load_avg?.[0]),
  };
}

// "Max sustained": the largest N whose medians show p99 start lag <= 1 s, nothing missed,
// nothing left scheduled/running after the tail, no duplicates.
function sustains(a) {
  return a.reps > 0 && a.start_p99 !== null && a.start_p99 <= 1000 && a.missed === 0 && a.left === 0 && a.duplicates === 0;
}

const shortCpu = (cpu) => Object.entries(cpu).map(([k, v]) => `${k.replace('hourglass-', '')} ${fmt(v, 1)}`).join(', ');

function table(aggs, wrkRuns, meta) {
  const lines = [];
  lines.push(`Run path, end to end — ${meta.date}, ${meta.machine.cpus} cores (${meta.machine.cpu}), hourglass ${meta.build.commit || meta.build.version}, window ${meta.windowS} s, capacity/concurrency ${meta.capacity}; medians of ${meta.reps} repetitions.`);
  lines.push('');
  lines.push('| N | system | start lag p50 / p99 ms | e2e p99 ms | runs expected / recorded / received | missed | dup | left | completed/s | store writes/run | raft proposals/run | DB bytes/run | CPU s over window | load |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const a of aggs) {
    lines.push(`| ${a.n} | ${a.system}${a.failed ? ` (${a.failed} failed)` : ''} | ${ms(a.start_p50)} / ${ms(a.start_p99)} | ${ms(a.e2e_p99)} | ${fmt(a.expected)} / ${fmt(a.recorded)} / ${fmt(a.received)} | ${fmt(a.missed)} | ${fmt(a.duplicates)} | ${fmt(a.left)} | ${fmt(a.completed_per_s)} | ${fmt(a.store_writes_per_run, 2)} | ${fmt(a.proposals_per_run, 2)} | ${fmt(a.db_bytes_per_run)} | ${shortCpu(a.cpu_s)} | ${fmt(a.load, 1)} |`);
  }
  const ns = [...new Set(aggs.map((a) => a.n))];
  const get = (sys, n) => aggs.find((a) => a.system === sys && a.n === n);
  lines.push('');
  lines.push('Ratios to the peer (Hourglass / BullMQ; < 1 is better for lag):');
  lines.push('');
  lines.push('| N | dev p99 start / peer | etcd p99 start / peer | dev p99 e2e / peer | etcd p99 e2e / peer |');
  lines.push('|---|---|---|---|---|');
  const ratio = (x, y) => (x === null || x === undefined || !y ? '—' : (x / y).toFixed(2));
  for (const n of ns) {
    const d = get('hourglass-dev', n), e = get('hourglass-etcd', n), p = get('bullmq', n);
    lines.push(`| ${n} | ${ratio(d?.start_p99, p?.start_p99)} | ${ratio(e?.start_p99, p?.start_p99)} | ${ratio(d?.e2e_p99, p?.e2e_p99)} | ${ratio(e?.e2e_p99, p?.e2e_p99)} |`);
  }
  const wrkRate = median(wrkRuns.map((w) => w.requests_per_s));
  lines.push('');
  lines.push(`HTTP limit: wrk -t1 -c${meta.capacity} against the same receiver: ${fmt(wrkRate)} req/s (median of ${wrkRuns.length}).`);
  lines.push('');
  lines.push('| system | max sustained N in the ladder (runs/s) | / wrk | / peer |');
  lines.push('|---|---|---|---|');
  const maxSustained = {};
  for (const sys of [...new Set(aggs.map((a) => a.system))]) {
    const passing = aggs.filter((a) => a.system === sys && sustains(a)).map((a) => a.n);
    maxSustained[sys] = passing.length ? Math.max(...passing) : 0;
  }
  for (const [sys, n] of Object.entries(maxSustained)) {
    lines.push(`| ${sys} | ${n || 'none'} | ${wrkRate ? (n / wrkRate).toPrecision(2) : '—'} | ${maxSustained.bullmq ? (n / maxSustained.bullmq).toFixed(2) : '—'} |`);
  }
  return { text: lines.join('\n'), wrk_requests_per_s: wrkRate, max_sustained: maxSustained };
}

function save(s, name, data) {
  const file = path.join(s.out, name);
  fs.writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

function brief(r) {
  const lag = r.start_lag_ms ?? {};
  return `${r.system} n=${r.n}: ${r.ok ? '' : `FAILED (${String(r.error).split('\n')[0]}) `}start lag p50/p90/p99/max ${lag.p50}/${lag.p90}/${lag.p99}/${lag.max} ms, e2e p99 ${r.e2e_lag_ms?.p99} ms, expected ${r.expected} recorded ${r.recorded} received ${r.received}, missed ${r.missed}, dup ${r.duplicates}, left ${(r.left_scheduled ?? 0) + (r.left_running ?? 0)}, writes/run ${r.store_writes_per_run}${r.proposals_per_run !== undefined ? `, proposals/run ${r.proposals_per_run}` : ''}, DB bytes/run ${r.db_bytes_per_run}${r.db_growth ? `, DB ${r.db_growth.first_bytes} -> ${r.db_growth.last_bytes} B over the last ${r.db_growth.span_s} s (${r.db_growth.pct} %), peak ${r.db_bytes_peak}` : ''}, CPU ${JSON.stringify(r.cpu_s)}, load ${r.load_avg}`;
}

// ---------------------------------------------------------------- commands
async function main() {
  if (!command || command === 'help' || args.help) {
    const head = [];
    for (const l of fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1)) {
      if (!l.startsWith('//')) break;
      head.push(l.slice(3));
    }
    console.log(head.join('\n'));
    return 0;
  }
  const s = settings();
  const meta = { date: new Date().toISOString(), machine: machine(), build: commitOf(s.hourglass), hourglass: s.hourglass, windowS: s.windowS, tailS: s.tailS, capacity: s.capacity };
  log(`results in ${s.out}; hourglass ${s.hourglass} (${meta.build.commit || meta.build.version})`);

  if (command === 'fire-lag' || command === 'peer') {
    const runs = [];
    for (const n of nums(args.n, 100)) {
      for (const mode of command === 'peer' ? ['peer'] : list(args.mode, 'dev')) {
        const r = await runSystem(s, mode, n);
        runs.push(r);
        console.log(brief(r));
        save(s, `${command}.json`, { meta, runs });
      }
    }
    console.log(`results: ${path.join(s.out, `${command}.json`)}`);
    return runs.every((r) => r.ok) ? 0 : 1;
  }

  if (command === 'http-limit') {
    const w = await wrk(s, Number(args.connections ?? s.capacity), Number(args.seconds ?? 5));
    console.log(`wrk -t1 -c${w.connections} -d${w.seconds}s: ${w.requests_per_s} req/s (load ${w.load_avg})`);
    save(s, 'http-limit.json', { meta, wrk: w });
    return 0;
  }

  if (command === 'shell') {
    const runs = [];
    const spawnLoop = s.spawnLoop();
    for (const n of nums(args.n, '100,300,500')) {
      for (const mode of list(args.mode, 'etcd')) {
        const r = await runSystem(s, mode, n, { executor: 'shell', command: args.command ?? 'true' });
        const raw = JSON.parse(runSync(spawnLoop, ['--parallel', String(s.capacity), '--seconds', String(args['raw-seconds'] ?? 5), '--command', args.command ?? 'true']).stdout);
        r.raw_spawn = raw;
        r.ratio_to_raw = round((r.completed_per_s ?? 0) / raw.rate, 3);
        runs.push(r);
        console.log(`${brief(r)}\n  shell: completed ${r.completed_per_s}/s vs raw posix_spawn loop ${raw.rate}/s (parallel ${raw.parallel}): ratio ${r.ratio_to_raw}`);
        save(s, 'shell.json', { meta, runs });
      }
    }
    console.log(`results: ${path.join(s.out, 'shell.json')}`);
    return runs.every((r) => r.ok) ? 0 : 1;
  }

  if (command === 'sustain') {
    // Bisection between a passing --lo and a failing --hi, one window per step.
    const system = args.system ?? 'etcd';
    let lo = Number(args.lo ?? 100), hi = Number(args.hi ?? 1000);
    const steps = Number(args.steps ?? 4);
    const runs = [];
    for (let i = 0; i < steps && hi - lo > Math.max(10, lo * 0.1); i++) {
      const n = Math.round(Math.sqrt(lo * hi) / 10) * 10;
      const r = await runSystem(s, system, n);
      runs.push(r);
      const pass = r.ok && sustains(aggregate([r]));
      console.log(`${brief(r)}\n  -> ${pass ? 'sustained' : 'not sustained'}`);
      if (pass) lo = n;
      else hi = n;
      save(s, 'sustain.json', { meta, system, runs, lo, hi });
    }
    const w = await wrk(s, s.capacity);
    console.log(`max sustained ${system}: ${lo} runs/s (first failing ${hi}); wrk ${w.requests_per_s} req/s; ratio ${(lo / w.requests_per_s).toPrecision(2)}`);
    save(s, 'sustain.json', { meta, system, runs, lo, hi, wrk: w });
    return 0;
  }

  if (command === 'all') {
    const ns = nums(args.n, '10,100,1000');
    const systems = list(args.systems, 'dev,etcd,peer');
    const reps = Number(args.reps ?? 3);
    const deadline = Date.now() + Number(args['max-minutes'] ?? 150) * 60000;
    meta.reps = reps;
    const runs = [];
    const wrkRuns = [];
    for (const n of ns) {
      for (let rep = 0; rep < reps; rep++) {
        const order = systems.map((_, i) => systems[(i + rep) % systems.length]); // rotate per repetition
        for (const sys of order) {
          if (Date.now() > deadline) {
            log(`--max-minutes reached: skipping ${sys} n=${n} rep ${rep + 1}`);
            continue;
          }
          const r = await runSystem(s, sys, n);
          r.rep = rep + 1;
          runs.push(r);
          console.log(brief(r));
          save(s, 'results.json', { meta, runs, wrk: wrkRuns });
        }
        if (Date.now() <= deadline) {
          try {
            wrkRuns.push({ ...(await wrk(s, s.capacity)), n, rep: rep + 1 });
          } catch (e) {
            log(`wrk: ${e.message}`);
          }
        }
      }
    }
    const groups = new Map();
    for (const r of runs) {
      const k = `${r.n}|${r.system}`;
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k).push(r);
    }
    const aggs = [...groups.values()].map(aggregate);
    const t = table(aggs, wrkRuns, meta);
    save(s, 'results.json', { meta, runs, wrk: wrkRuns, medians: aggs, max_sustained: t.max_sustained, wrk_requests_per_s: t.wrk_requests_per_s });
    fs.writeFileSync(path.join(s.out, 'table.md'), `${t.text}\n`);
    console.log(`\n${t.text}\n\nresults: ${path.join(s.out, 'results.json')}, ${path.join(s.out, 'table.md')}`);
    return runs.every((r) => r.ok) ? 0 : 1;
  }

  if (command === 'smoke') {
    // The harness itself works: every step ran and the results file has the expected counts.
    // Never asserts speed. N = 100, 10 s window, hourglass dev.
    s.windowS = Number(args.window ?? 10);
    const n = Number(args.n ?? 100);
    const r = await runSystem(s, 'dev', n);
    const file = save(s, 'smoke.json', { meta, runs: [r] });
    const back = JSON.parse(fs.readFileSync(file, 'utf8')).runs[0];
    console.log(brief(back));
    const problems = [];
    const expectSteps = ['started', 'registered', 'window measured', 'paused', 'collected'];
    for (const st of expectSteps) if (!(back.steps ?? []).some((x) => x.startsWith(st))) problems.push(`step "${st}" did not run`);
    if (!back.ok) problems.push(`run failed: ${back.error}`);
    if (back.expected !== n * s.windowS) problems.push(`expected ${back.expected}, want ${n * s.windowS}`);
    if (!(back.recorded > 0)) problems.push('no execution record in the window');
    if (!(back.received > 0)) problems.push('the receiver saw no request of the window');
    if (!(back.start_lag_ms?.n > 0) || back.start_lag_ms.p50 === null) problems.push('no start lag measured');
    if (!(back.e2e_lag_ms?.n > 0)) problems.push('no end-to-end lag measured');
    if (back.recorded + back.no_record !== back.expected) problems.push('recorded + no_record != expected');
    if (back.duplicates !== 0) problems.push(`${back.duplicates} duplicates (${back.duplicate_records} records, ${back.duplicate_arrivals} arrivals)`);
    if (!(back.store_writes_per_run > 0)) problems.push('no store writes counted');
    if (!Object.values(back.cpu_s ?? {}).every((v) => v !== null && v >= 0)) problems.push('CPU not measured');
    if (problems.length) {
      console.error(`smoke FAILED:\n  ${problems.join('\n  ')}`);
      return 1;
    }
    console.log('smoke: ok');
    return 0;
  }

  throw new Error(`unknown command ${command} (try: help)`);
}

main().then(
  (code) => {
    killAllChildren();
    process.exit(code);
  },
  (e) => {
    console.error(e?.stack ?? e);
    killAllChildren();
    process.exit(1);
  },
);
