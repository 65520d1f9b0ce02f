#!/usr/bin/env node
// HTTP serving of the API (issue 15 §1): many keep-alive clients, wrk against a minimal C server,
// registrations from a pooled client — on `hourglass dev` and on a master with one etcd, without
// and with 1,000 per-second jobs firing. README.md beside this file says what each figure means.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  Child, agent, diskTempDir, log, median, pct, pool, promSum, request, round, runSync, saveLogs, sleep, waitFor,
} from '../run_path/lib.mjs';
import { startHourglass, startReceiver } from '../run_path/hourglass.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

function parseArgs(argv) {
  const cfg = {
    hourglass: process.env.HG_BENCH_HOURGLASS ?? path.join(root, 'build/release/src/app/hourglass'),
    receiver: process.env.HG_BENCH_RECEIVER,
    modes: ['dev', 'etcd'],
    loads: [0, 1000],
    reps: 3,
    seconds: 8,
    clients: 200,
    regJobs: 1000,
    regClients: 50,
    regDeadlineS: 90,
    rateLimit: '0',
    label: '',
    out: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const [k, v] = [argv[i], argv[i + 1]];
    const take = () => { i++; return v; };
    if (k === '--hourglass') cfg.hourglass = take();
    else if (k === '--receiver') cfg.receiver = take();
    else if (k === '--modes') cfg.modes = take().split(',');
    else if (k === '--loads') cfg.loads = take().split(',').map(Number);
    else if (k === '--reps') cfg.reps = Number(take());
    else if (k === '--seconds') cfg.seconds = Number(take());
    else if (k === '--clients') cfg.clients = Number(take());
    else if (k === '--reg-jobs') cfg.regJobs = Number(take());
    else if (k === '--reg-clients') cfg.regClients = Number(take());
    else if (k === '--reg-deadline') cfg.regDeadlineS = Number(take());
    else if (k === '--rate-limit') cfg.rateLimit = take();
    else if (k === '--label') cfg.label = take();
    else if (k === '--out') cfg.out = take();
    else throw new Error(`unknown option ${k} (see bench/http/README.md)`);
  }
  if (!cfg.receiver) {
    const near = path.resolve(path.dirname(cfg.hourglass), '../../bench/hg_receiver');
    cfg.receiver = [near, path.join(root, 'build/release/bench/hg_receiver')].find((p) => fs.existsSync(p));
  }
  return cfg;
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const toMs = (v, unit) => Number(v) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1);

// wrk's own summary: requests/s, latency percentiles (ms), errors.
async function wrk(url, connections, seconds) {
  const out = await run('wrk', ['-t2', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '--latency', url]);
  const lat = {};
  for (const m of out.matchAll(/^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$/gm)) lat[m[1]] = round(toMs(m[2], m[3]), 2);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: round(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0), 0),
    p50_ms: lat[50], p99_ms: lat[99],
    timeouts: sock ? Number(sock[4]) : 0,
    errors: sock ? Number(sock[1]) + Number(sock[2]) + Number(sock[3]) : 0,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
  };
}

// `clients` keep-alive connections, each sending its next GET as soon as the last is answered,
// for `seconds`: how many answers each got ("no client starved": min > 0).
async function perClient(url, clients, seconds) {
  const counts = new Array(clients).fill(0);
  const lat = [];
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  await Promise.all(counts.map(async (_, i) => {
    const ag = agent(1);
    while (Date.now() < end) {
      const t = performance.now();
      try {
        const r = await request(url, { agent: ag, timeoutMs: 20000 });
        if (r.status === 200) {
          counts[i]++;
          lat.push(performance.now() - t);
        } else errors++;
      } catch {
        errors++;
      }
    }
    ag.destroy();
  }));
  const sorted = [...counts].sort((a, b) => a - b);
  lat.sort((a, b) => a - b);
  return {
    min: sorted[0], median: median(sorted), max: sorted[sorted.length - 1],
    starved: counts.filter((c) => c === 0).length, total: counts.reduce((a, b) => a + b, 0),
    p99_ms: round(pct(lat, 99), 1), errors,
  };
}

// `names.length` POST /jobs/ from `clients` keep-alive connections; stops issuing after
// deadlineS (then `ok` < n says how far it got).
async function register(api, names, clients, body, deadlineS) {
  const ag = agent(clients);
  const lat = [];
  let ok = 0;
  let failed = 0;
  const t0 = Date.now();
  await pool(names, clients, async (name) => {
    if (Date.now() - t0 > deadlineS * 1000) return;
    const t = performance.now();
    try {
      const r = await request(`${api}/jobs/`, { method: 'POST', body: body(name), agent: ag, timeoutMs: 60000 });
      if (r.status === 201) ok++;
      else failed++;
    } catch {
      failed++;
    }
    lat.push(performance.now() - t);
  });
  ag.destroy();
  const wall = (Date.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { n: names.length, ok, failed, wall_s: round(wall, 2), per_s: round(ok / wall, 0), p50_ms: round(pct(lat, 50), 1), p99_ms: round(pct(lat, 99), 1) };
}

const idleJob = (name) => ({ name, cron_expr: '0 0 0 1 1 *', executor_type: 'shell', executor: { command: 'true' } });

async function executions(sys) {
  let sum = 0;
  for (const url of sys.metrics) {
    try {
      sum += promSum((await request(url, { timeoutMs: 20000 })).body, 'hourglass_executions_total');
    } catch {}
  }
  return sum;
}

async function oneSystem(cfg, mode, load, mini) {
  const dir = fs.mkdtempSync(path.join(cfg.workDir, `${mode}-load${load}-`));
  const children = [];
  const result = { mode, load, reps: [] };
  try {
    let receiver;
    if (load > 0) {
      receiver = await startReceiver(cfg.receiver, dir);
      children.push(receiver);
    }
    const sys = await startHourglass({ mode, hourglass: cfg.hourglass, logLevel: 'warn', capacity: 16 }, dir);
    children.push(...sys.children);
    await waitFor('a leader and a worker', async () => {
      for (const c of sys.children) if (c.exited) throw new Error(`${c.name} exited; see ${c.logFile}`);
      const r = await request(`${sys.api}/cluster`, { timeoutMs: 2000 });
      const c = r.status === 200 && JSON.parse(r.body);
      return c && c.leader && (c.workers ?? []).length >= 1;
    }, 60000, 200);
    const target = 'http-target';
    const t = await request(`${sys.api}/jobs/`, { method: 'POST', body: idleJob(target) });
    if (t.status !== 201) throw new Error(`target job: HTTP ${t.status} ${t.body}`);
    if (load > 0) {
      // Registered with 8 connections: within what the old server served without starving.
      const names = Array.from({ length: load }, (_, i) => `fire-${String(i).padStart(5, '0')}`);
      const reg = await register(sys.api, names, 8, (name) => ({
        name, cron_expr: '* * * * * *', concurrency_policy: 'Allow', executor_type: 'http',
        executor: { url: `${receiver.url}/nolog/${name}`, method: 'GET' },
      }), 900);
      log(`${mode}: ${reg.ok} per-second jobs registered in ${reg.wall_s} s`);
      await sleep(5000);
    }
    for (let rep = 1; rep <= cfg.reps; rep++) {
      const e0 = await executions(sys);
      const t0 = Date.now();
      const r = { rep };
      r.a_wrk = await wrk(`${sys.api}/jobs/${target}`, cfg.clients, cfg.seconds);
      r.a_clients = await perClient(`${sys.api}/jobs/${target}`, cfg.clients, cfg.seconds);
      r.b_hourglass = await wrk(`${sys.api}/healthz`, 64, cfg.seconds);
      r.b_c = await wrk(`http://127.0.0.1:${mini.port}/healthz`, 64, cfg.seconds);
      r.b_ratio = round(r.b_hourglass.rps / r.b_c.rps, 2);
      const names = Array.from({ length: cfg.regJobs }, (_, i) => `reg-${rep}-${String(i).padStart(5, '0')}`);
      r.c_register = await register(sys.api, names, cfg.regClients, idleJob, cfg.regDeadlineS);
      r.executions_per_s = round((await executions(sys) - e0) / ((Date.now() - t0) / 1000), 0);
      log(`${mode} load=${load} rep ${rep}: ${JSON.stringify(r)}`);
      result.reps.push(r);
    }
    result.ok = true;
  } catch (e) {
    result.ok = false;
    result.error = String(e?.stack ?? e);
    log(`${mode} load=${load} FAILED: ${e.message}`);
  } finally {
    for (const c of [...children].reverse()) await c.stop(5000);
    if (!result.ok) result.logs = saveLogs(dir, cfg.out);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const m = (f) => median(result.reps.map(f).filter((x) => x !== undefined && !Number.isNaN(x)));
  result.median = {
    a_p99_ms: m((r) => r.a_wrk.p99_ms), a_rps: m((r) => r.a_wrk.rps), a_timeouts: m((r) => r.a_wrk.timeouts),
    a_min: m((r) => r.a_clients.min), a_median: m((r) => r.a_clients.median), a_max: m((r) => r.a_clients.max),
    a_starved: m((r) => r.a_clients.starved),
    b_hourglass_rps: m((r) => r.b_hourglass.rps), b_c_rps: m((r) => r.b_c.rps), b_ratio: m((r) => r.b_ratio),
    c_wall_s: m((r) => r.c_register.wall_s), c_ok: m((r) => r.c_register.ok), c_p99_ms: m((r) => r.c_register.p99_ms),
    executions_per_s: m((r) => r.executions_per_s),
  };
  return result;
}

async function main() {
  const cfg = parseArgs(process.argv.slice(2));
  cfg.hourglass = path.resolve(cfg.hourglass); // the worker runs in its own folder
  if (!fs.existsSync(cfg.hourglass)) throw new Error(`no hourglass binary at ${cfg.hourglass}`);
  if (cfg.loads.some((l) => l > 0) && !cfg.receiver) throw new Error('no hg_receiver: build it or pass --receiver');
  // The API's per-caller rate limit (default 50/s) would measure itself, not the serving: every
  // client here is the same anonymous caller. Off unless --rate-limit says otherwise.
  process.env.HOURGLASS_RATE_LIMIT = cfg.rateLimit;
  cfg.workDir = diskTempDir('hg-http-bench-');
  cfg.out ??= fs.mkdtempSync(path.join(os.tmpdir(), 'hg-http-bench-out-'));
  fs.mkdirSync(cfg.out, { recursive: true });
  // The minimal C peer, built here so that it is the same code on every machine.
  const miniBin = path.join(cfg.workDir, 'mini_server');
  const cc = runSync('cc', ['-O2', '-o', miniBin, path.join(here, 'mini_server.c')]);
  if (cc.status !== 0) throw new Error(`cc: ${cc.stderr}`);
  const mini = new Child('mini_server', miniBin, ['0'], { logDir: cfg.workDir, pipeStdout: true });
  mini.port = Number((await mini.waitForLine(/^port (\d+)/, 5000))[1]);
  const report = {
    date: new Date().toISOString(), label: cfg.label, hourglass: cfg.hourglass,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, mem_gb: round(os.totalmem() / 2 ** 30, 1), kernel: os.release() },
    config: { rate_limit: cfg.rateLimit, reps: cfg.reps, seconds: cfg.seconds, clients: cfg.clients, reg_jobs: cfg.regJobs, reg_clients: cfg.regClients },
    systems: [],
  };
  try {
    for (const load of cfg.loads) {
      for (const mode of cfg.modes) report.systems.push(await oneSystem(cfg, mode, load, mini));
    }
  } finally {
    await mini.stop(2000);
    fs.rmSync(cfg.workDir, { recursive: true, force: true });
  }
  const file = path.join(cfg.out, `http-${cfg.label || 'run'}-${report.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(report, null, 2));
  for (const s of report.systems) console.log(`${s.mode} load=${s.load} ok=${s.ok} ${JSON.stringify(s.median)}`);
  console.log(`results: ${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
