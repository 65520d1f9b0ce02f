// One fire-lag (or shell) run against Hourglass: starts etcd + master + worker (mode "etcd") or
// `hourglass dev` (mode "dev"), and the no-op receiver for HTTP jobs; registers N per-second
// jobs, measures a window, pauses the jobs, waits the tail, reads every execution record from
// the store and every arrival from the receiver, stops everything, and returns the figures.
// Definitions: README.md beside this file.
import fs from 'node:fs';
import path from 'node:path';
import {
  Child, agent, cpuDelta, cpuSnapshot, fileSize, freePort, loadAvg, log, parseTimeMs, pool,
  promSum, request, requestRetry, round, runFrame, runSync, sleep, summary, waitFor,
} from './lib.mjs';

const PREFIX = '/hourglass/';
const WRITE_OPS = new Set(['put', 'delete', 'txn']);

export function jobName(i) {
  return `bench-${String(i).padStart(5, '0')}`;
}

export async function startReceiver(bin, dir, name = 'receiver') {
  const out = path.join(dir, `${name}-arrivals.tsv`);
  const child = new Child(name, bin, ['--port', '0', '--out', out], { logDir: dir, pipeStdout: true });
  const m = await child.waitForLine(/^port (\d+)/, 10000);
  child.port = Number(m[1]);
  child.url = `http://127.0.0.1:${child.port}`;
  child.outFile = out;
  return child;
}

// Arrivals recorded by the receiver so far: [{ms, path, traceparent}].
export async function receiverArrivals(receiver) {
  await requestRetry(`${receiver.url}/__dump`, {}, { attempts: 3 });
  const text = fs.readFileSync(receiver.outFile, 'utf8');
  const out = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [ns, p, tp] = line.split('\t');
    out.push({ ms: Number(BigInt(ns) / 1000n) / 1000, path: p, traceparent: tp ?? '' });
  }
  return out;
}

export async function startEtcd(dir) {
  const [client, peer] = [await freePort(), await freePort()];
  const data = path.join(dir, 'etcd-data');
  const url = `http://127.0.0.1:${client}`;
  const etcd = new Child('etcd', 'etcd', [
    '--name', 'n1', '--data-dir', data, '--logger=zap', `--log-outputs=${path.join(dir, 'etcd-zap.log')}`,
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-cluster', `n1=http://127.0.0.1:${peer}`, '--initial-cluster-state', 'new',
    '--heartbeat-interval=10', '--election-timeout=100',
  ], { logDir: dir });
  etcd.url = url;
  etcd.dataDir = data;
  await waitFor('etcd /health', async () => {
    if (etcd.exited) throw new Error(`etcd exited: see ${etcd.logFile}`);
    const r = await request(`${url}/health`, { timeoutMs: 1000 });
    return r.status === 200 && JSON.parse(r.body).health === 'true';
  }, 20000);
  return etcd;
}

async function scrape(url) {
  try {
    return (await request(url, { timeoutMs: 20000 })).body;
  } catch (e) {
    log(`scrape ${url}: ${e.message}`);
    return '';
  }
}

// Starts the system under test; returns {api, children, metrics: [urls], etcd?, dataFile?}.
export async function startHourglass(cfg, dir) {
  const common = ['--log-format', 'json', '--log-level', cfg.logLevel];
  const compaction = cfg.compactRetention !== undefined ? ['--compact-retention', cfg.compactRetention] : [];
  if (cfg.mode === 'dev') {
    const port = await freePort();
    const data = path.join(dir, 'data');
    const dev = new Child('hourglass-dev', cfg.hourglass, [
      'dev', '--http', `127.0.0.1:${port}`, '--data', data, '--capacity', String(cfg.capacity), ...compaction, ...common,
    ], { logDir: dir });
    return { api: `http://127.0.0.1:${port}`, children: [dev], metrics: [`http://127.0.0.1:${port}/metrics`], dev, dataFile: path.join(data, 'hourglass.db') };
  }
  if (cfg.mode !== 'etcd') throw new Error(`unknown mode ${cfg.mode}`);
  const etcd = await startEtcd(dir);
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  const master = new Child('hourglass-master', cfg.hourglass, [
    'master', '--etcd', etcd.url, '--http', `127.0.0.1:${http}`, '--id', 'bench-master', ...compaction, ...common,
  ], { logDir: dir });
  const worker = new Child('hourglass-worker', cfg.hourglass, [
    'worker', '--etcd', etcd.url, '--grpc', `127.0.0.1:${grpc}`, '--metrics', `127.0.0.1:${metrics}`,
    '--id', 'bench-worker', '--capacity', String(cfg.capacity), ...common,
    // The no-op receiver is on 127.0.0.1, which HTTP jobs may not reach by default.
    '--http-allow', '127.0.0.0/8',
  ], { logDir: dir, cwd: dir }); // its default spool folder (./hourglass-worker-data) stays in the run folder
  return {
    api: `http://127.0.0.1:${http}`,
    children: [etcd, master, worker],
    metrics: [`http://127.0.0.1:${http}/metrics`, `http://127.0.0.1:${metrics}/metrics`],
    etcd,
  };
}

// The store's size: etcd's backend (file, and the part holding data), or the SQLite files.
async function dbSize(sys) {
  if (sys.etcd) {
    const t = await scrape(`${sys.etcd.url}/metrics`);
    return {
      proposals: promSum(t, 'etcd_server_proposals_committed_total'),
      dbBytes: promSum(t, 'etcd_mvcc_db_total_size_in_bytes'),
      dbBytesInUse: promSum(t, 'etcd_mvcc_db_total_size_in_use_in_bytes'),
    };
  }
  return { dbBytes: fileSize(sys.dataFile) + fileSize(`${sys.dataFile}-wal`) };
}

async function snapshot(sys, children) {
  const texts = await Promise.all(sys.metrics.map(scrape));
  return {
    at: Date.now(),
    cpu: cpuSnapshot(children),
    load: loadAvg(),
    storeWrites: texts.reduce((s, t) => s + promSum(t, 'hourglass_store_request_duration_seconds_count', (l) => WRITE_OPS.has(l.op)), 0),
    // Runs finished (any status), from the worker's own counter: still right when retention
    // has pruned the records of the window.
    executions: texts.reduce((s, t) => s + promSum(t, 'hourglass_executions_total'), 0),
    ...(await dbSize(sys)),
  };
}

// The DB size curve: growth over the last 5 minutes of the window (the last half when the
// window is shorter), in bytes and percent ("flat" = under 5 %).
export function dbGrowth(samples, windowS) {
  if (samples.length < 2) return null;
  const span = windowS >= 600 ? 300 : windowS / 2;
  // The last sample at or before the start of the span (the first one if none).
  const first = samples.filter((x) => x.t_s <= windowS - span).pop() ?? samples[0];
  const last = samples[samples.length - 1];
  return {
    span_s: round(last.t_s - first.t_s, 0),
    first_bytes: first.bytes,
    last_bytes: last.bytes,
    pct: first.bytes > 0 ? round(((last.bytes - first.bytes) / first.bytes) * 100, 1) : null,
  };
}

function jobBody(cfg, name, receiverUrl) {
  const base = { name, cron_expr: '* * * * * *', concurrency_policy: 'Allow' };
  if (cfg.historyLimit !== undefined) base.history_limit = cfg.historyLimit;
  if (cfg.executor === 'shell') return { ...base, executor_type: 'shell', executor: { command: cfg.command } };
  return { ...base, executor_type: 'http', executor: { url: `${receiverUrl}/r/${name}`, method: 'GET' } };
}

// Every execution record under exec/, as parsed objects.
function readRecords(sys, dir) {
  const out = path.join(dir, 'records.jsonl');
  if (sys.etcd) {
    const fd = fs.openSync(out, 'w');
    const r = runSync('etcdctl', ['--endpoints', sys.etcd.url, '--command-timeout=120s', 'get', '--prefix', `${PREFIX}exec/`, '--print-value-only'], {
      env: { ...process.env, ETCDCTL_API: '3' }, stdio: ['ignore', fd, 'pipe'], timeout: 180000,
    });
    fs.closeSync(fd);
    if (r.status !== 0) throw new Error(`etcdctl get: ${r.stderr}`);
  } else {
    const fd = fs.openSync(out, 'w');
    const r = runSync('sqlite3', [sys.dataFile, `SELECT CAST(value AS TEXT) FROM kv WHERE CAST(key AS TEXT) LIKE '${PREFIX}exec/%'`], {
      stdio: ['ignore', fd, 'pipe'], timeout: 180000,
    });
    fs.closeSync(fd);
    if (r.status !== 0) throw new Error(`sqlite3: ${r.stderr}`);
  }
  const recs = [];
  for (const line of fs.readFileSync(out, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      recs.push(JSON.parse(line));
    } catch {}
  }
  return recs;
}

// The figures of one run from the records and arrivals (README.md "Definitions").
export function analyse({ records, arrivals, names, t0, windowS, pathPrefix = '/r/' }) {
  const t1 = t0 + windowS * 1000;
  const jobSet = new Set(names);
  const expected = names.length * windowS;
  const perInstant = new Map();
  const byTrace = new Map();
  const status = {};
  const startLag = [];
  let completedInWindow = 0;
  for (const r of records) {
    if (!jobSet.has(r.job_name)) continue;
    const end = parseTimeMs(r.end_time);
    if (end !== null && end >= t0 && end < t1) completedInWindow++;
    const sched = parseTimeMs(r.scheduled_time);
    if (r.trigger === 'manual' || sched < t0 || sched >= t1) continue;
    const k = `${r.job_name}@${sched}`;
    perInstant.set(k, (perInstant.get(k) ?? 0) + 1);
    status[r.status] = (status[r.status] ?? 0) + 1;
    const start = parseTimeMs(r.start_time);
    if (start !== null && !Number.isNaN(start)) startLag.push(start - sched);
    if (r.trace_id) byTrace.set(r.trace_id, { sched, job: r.job_name });
  }
  let duplicateRecords = 0;
  for (const c of perInstant.values()) duplicateRecords += c - 1;
  const e2e = [];
  const seenTrace = new Map();
  let unmatched = 0;
  for (const a of arrivals) {
    if (!a.path.startsWith(pathPrefix)) continue;
    const trace = (a.traceparent.split('-')[1] ?? '').toLowerCase();
    const rec = byTrace.get(trace);
    if (!rec) {
      unmatched++;
      continue;
    }
    seenTrace.set(trace, (seenTrace.get(trace) ?? 0) + 1);
    if (seenTrace.get(trace) === 1) e2e.push(a.ms - rec.sched);
  }
  let duplicateArrivals = 0;
  for (const c of seenTrace.values()) duplicateArrivals += c - 1;
  return {
    expected,
    recorded: perInstant.size,
    started: startLag.length,
    received: seenTrace.size,
    no_record: expected - perInstant.size,
    missed: (status.missed ?? 0) + (expected - perInstant.size),
    duplicates: duplicateRecords + duplicateArrivals,
    duplicate_records: duplicateRecords,
    duplicate_arrivals: duplicateArrivals,
    arrivals_outside_window: unmatched,
    left_scheduled: status.scheduled ?? 0,
    left_running: status.running ?? 0,
    status,
    start_lag_ms: summary(startLag),
    e2e_lag_ms: summary(e2e),
    completed_per_s: round(completedInWindow / windowS, 1),
  };
}

// cfg: {mode, n, windowS, tailS, executor: 'http'|'shell', command, hourglass, receiver,
//       capacity, logLevel, regConcurrency, workDir, keep}
export function runHourglass(cfg) {
  const result = { system: `hourglass-${cfg.mode}`, mode: cfg.mode, executor: cfg.executor, n: cfg.n, window_s: cfg.windowS, capacity: cfg.capacity };
  // Children stop in reverse order: Hourglass first (a worker may wait for etcd), etcd last.
  return runFrame(cfg, result, async ({ dir, children, step }) => {
    let receiver;
    if (cfg.executor === 'http') {
      receiver = await startReceiver(cfg.receiver, dir);
      children.push(receiver);
    }
    const sys = await startHourglass(cfg, dir);
    children.push(...sys.children);
    const ag = agent(cfg.regConcurrency);
    await waitFor('a leader and a worker', async () => {
      for (const c of sys.children) if (c.exited) throw new Error(`${c.name} exited (${c.exitCode}); see ${c.logFile}`);
      const r = await request(`${sys.api}/cluster`, { agent: ag, timeoutMs: 2000 });
      if (r.status !== 200) return false;
      const c = JSON.parse(r.body);
      return c.leader && (c.workers ?? []).length >= 1;
    }, 60000, 200);
    step('started');

    const names = Array.from({ length: cfg.n }, (_, i) => jobName(i + 1));
    const regStart = Date.now();
    await pool(names, cfg.regConcurrency, (name) =>
      requestRetry(`${sys.api}/jobs/`, { method: 'POST', body: jobBody(cfg, name, receiver?.url), agent: ag, timeoutMs: 30000 }));
    result.register_s = round((Date.now() - regStart) / 1000, 1);
    step(`registered ${cfg.n} jobs in ${result.register_s} s`);

    const t0 = (Math.ceil(Date.now() / 1000) + 1) * 1000;
    const t1 = t0 + cfg.windowS * 1000;
    await sleep(t0 - Date.now());
    const a = await snapshot(sys, children);
    // The DB size every dbSampleS seconds of the window (README.md "Store growth").
    const samples = [{ t_s: 0, bytes: a.dbBytes, in_use: a.dbBytesInUse }];
    for (let k = 1; cfg.dbSampleS > 0 && t0 + k * cfg.dbSampleS * 1000 < t1 - 500; k++) {
      await sleep(t0 + k * cfg.dbSampleS * 1000 - Date.now());
      const d = await dbSize(sys);
      samples.push({ t_s: round((Date.now() - t0) / 1000, 1), bytes: d.dbBytes, in_use: d.dbBytesInUse });
    }
    await sleep(t1 - Date.now());
    const b = await snapshot(sys, children);
    samples.push({ t_s: cfg.windowS, bytes: b.dbBytes, in_use: b.dbBytesInUse });
    step('window measured');

    const pauseStart = Date.now();
    await pool(names, cfg.regConcurrency, (name) =>
      requestRetry(`${sys.api}/jobs/${name}/pause`, { method: 'POST', agent: ag, timeoutMs: 30000 }));
    result.pause_s = round((Date.now() - pauseStart) / 1000, 1);
    step(`paused in ${result.pause_s} s`);
    await sleep(cfg.tailS * 1000);
    ag.destroy();

    const arrivals = receiver ? await receiverArrivals(receiver) : [];
    if (sys.dev) await sys.dev.kill(); // freezes the store as it is now; read it after
    const records = readRecords(sys, dir);
    step(`collected ${records.length} records, ${arrivals.length} arrivals`);

    // With a history_limit shorter than the window, retention has pruned the window's older
    // records: account only for the instants whose records every job still keeps (the newest
    // history_limit per job, the last job paused pause_s after the window; 15 s of margin for
    // the retention sweep).
    let from = t0;
    if (cfg.historyLimit !== undefined) {
      const keptFrom = Math.ceil((t1 + result.pause_s * 1000 - (cfg.historyLimit - 15) * 1000) / 1000) * 1000;
      from = Math.max(t0, Math.min(keptFrom, t1 - 1000));
    }
    const accountS = (t1 - from) / 1000;
    Object.assign(result, analyse({ records, arrivals, names, t0: from, windowS: accountS }));
    if (from !== t0) result.accounted_window_s = accountS;
    // Store cost per run finished in the window (= N x window when Hourglass keeps up; when it
    // falls behind, fires of runs not finished yet make this an upper bound). When retention
    // pruned the window's records, the worker's counter of finished runs is used instead.
    const runs = Math.max(1, from !== t0 ? b.executions - a.executions : result.completed_per_s * cfg.windowS);
    result.runs_in_window = runs;
    result.t0 = new Date(t0).toISOString();
    result.load_avg = [a.load[0], b.load[0]];
    result.cpu_s = cpuDelta(a.cpu, b.cpu);
    result.store_writes_per_run = round((b.storeWrites - a.storeWrites) / runs, 2);
    if (sys.etcd) result.proposals_per_run = round((b.proposals - a.proposals) / runs, 2);
    result.db_bytes_per_run = Math.round((b.dbBytes - a.dbBytes) / runs);
    if (sys.etcd) result.db_in_use_bytes_per_run = Math.round((b.dbBytesInUse - a.dbBytesInUse) / runs);
    result.db_bytes_end = b.dbBytes;
    result.db_bytes_peak = Math.max(...samples.map((x) => x.bytes));
    result.db_size_samples = samples;
    result.db_growth = dbGrowth(samples, cfg.windowS);
    if (cfg.historyLimit !== undefined) result.history_limit = cfg.historyLimit;
    if (cfg.compactRetention !== undefined) result.compact_retention = cfg.compactRetention;
  });
}
