// One peer run: BullMQ + Redis with the same N per-second jobs, window and tail as a Hourglass
// fire-lag run. Installs what it needs on first use: Debian's redis-server (apt) and npm `bullmq`
// (latest) into a scratch folder made with mkdtemp, removed at exit (nothing is committed).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Child, cpuDelta, cpuSnapshot, freePort, loadAvg, log, round, runFrame, runSync, summary, waitFor,
} from './lib.mjs';
import { receiverArrivals, startReceiver } from './hourglass.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
let scratch;

function which(cmd) {
  return runSync('sh', ['-c', `command -v ${cmd}`]).stdout.trim();
}

export function ensurePeerInstalled(workDir) {
  if (!which('redis-server')) {
    log('peer: installing Debian redis-server');
    const sudo = process.getuid() === 0 ? [] : ['sudo'];
    const r = runSync(sudo[0] ?? 'apt-get', [...(sudo.length ? ['apt-get'] : []), 'install', '-y', '-qq', '--no-install-recommends', 'redis-server'], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, stdio: 'inherit',
    });
    if (r.status !== 0) throw new Error('apt-get install redis-server failed');
  }
  if (!scratch || !fs.existsSync(path.join(scratch, 'node_modules/bullmq'))) {
    scratch = fs.mkdtempSync(path.join(workDir, 'bullmq-'));
    process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));
    fs.writeFileSync(path.join(scratch, 'package.json'), '{"name":"hg-bench-peer","private":true}\n');
    log(`peer: npm install bullmq + ioredis (latest) into ${scratch}`);
    const r = runSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', 'bullmq@latest', 'ioredis@latest'], { cwd: scratch, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) throw new Error('npm install bullmq failed');
  }
  return scratch;
}

// cfg: {n, windowS, tailS, capacity, receiver, workDir, keep}
export function runPeer(cfg) {
  const result = { system: 'bullmq', mode: 'peer', executor: 'http', n: cfg.n, window_s: cfg.windowS, capacity: cfg.capacity };
  return runFrame(cfg, result, async ({ dir, children, step }) => {
    const bullmq = ensurePeerInstalled(cfg.workDir);
    const receiver = await startReceiver(cfg.receiver, dir);
    children.push(receiver);
    const port = await freePort();
    const redis = new Child('redis', 'redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no',
    ], { logDir: dir });
    children.push(redis);
    await waitFor('redis PING', async () => {
      if (redis.exited) throw new Error(`redis exited; see ${redis.logFile}`);
      return runSync('redis-cli', ['-p', String(port), 'ping']).stdout.trim() === 'PONG';
    }, 15000, 100);
    step('started');
    const out = path.join(dir, 'peer.json');
    const peer = new Child('bullmq-peer', process.execPath, [path.join(here, 'bullmq_peer.mjs'), JSON.stringify({
      bullmq, redisPort: port, n: cfg.n, windowS: cfg.windowS, tailS: cfg.tailS, concurrency: cfg.capacity, receiverUrl: receiver.url, out,
    })], { logDir: dir, pipeStdout: true });
    children.push(peer);
    const timeout = 120000 + cfg.n * 100 + (cfg.windowS + cfg.tailS) * 1000;
    await peer.waitForLine(/^T0 (\d+)/, timeout);
    const a = { cpu: cpuSnapshot(children), load: loadAvg() };
    await peer.waitForLine(/^T1 (\d+)/, cfg.windowS * 1000 + 30000);
    const b = { cpu: cpuSnapshot(children), load: loadAvg() };
    step('window measured');
    await peer.waitForLine(/^DONE/, timeout);
    const p = JSON.parse(fs.readFileSync(out, 'utf8'));
    const arrivals = await receiverArrivals(receiver);
    step(`collected ${p.entries.length} processor entries, ${arrivals.length} arrivals`);

    // Same definitions as analyse() in hourglass.mjs, keyed by scheduler id + scheduled ms.
    const perInstant = new Map();
    const lag = [];
    for (const [key, sched, entry] of p.entries) {
      if (sched < p.t0 || sched >= p.t1) continue;
      const k = `${key}@${sched}`;
      perInstant.set(k, (perInstant.get(k) ?? 0) + 1);
      if (perInstant.get(k) === 1) lag.push(entry - sched);
    }
    const seen = new Map();
    const e2e = [];
    for (const ar of arrivals) {
      const m = /^\/p\/([^/]+)\/(\d+)$/.exec(ar.path);
      if (!m) continue;
      const sched = Number(m[2]);
      if (sched < p.t0 || sched >= p.t1) continue;
      const k = `${m[1]}@${sched}`;
      seen.set(k, (seen.get(k) ?? 0) + 1);
      if (seen.get(k) === 1) e2e.push(ar.ms - sched);
    }
    let dupEntries = 0, dupArrivals = 0;
    for (const c of perInstant.values()) dupEntries += c - 1;
    for (const c of seen.values()) dupArrivals += c - 1;
    const expected = cfg.n * cfg.windowS;
    const runs = Math.max(1, p.entries.filter(([, , e]) => e >= p.t0 && e < p.t1).length); // per run processed in the window
    Object.assign(result, {
      bullmq_version: p.bullmq_version,
      register_s: round(p.register_s, 1),
      pause_s: round(p.pause_s, 1),
      expected,
      recorded: perInstant.size,
      started: perInstant.size,
      received: seen.size,
      no_record: expected - perInstant.size,
      missed: expected - perInstant.size,
      duplicates: dupEntries + dupArrivals,
      duplicate_records: dupEntries,
      duplicate_arrivals: dupArrivals,
      left_scheduled: p.left_waiting,
      left_running: p.left_active,
      start_lag_ms: summary(lag),
      e2e_lag_ms: summary(e2e),
      completed_per_s: round(p.entries.filter(([, , e]) => e >= p.t0 && e < p.t1).length / cfg.windowS, 1),
      t0: new Date(p.t0).toISOString(),
      load_avg: [a.load[0], b.load[0]],
      cpu_s: cpuDelta(a.cpu, b.cpu),
      store_writes_per_run: round(p.redis_commands / runs, 2), // Redis commands (reads too) per run
      db_bytes_per_run: Math.round(p.redis_memory_delta / runs), // Redis used_memory delta per run
    });
  });
}
