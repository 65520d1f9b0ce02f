// Shared pieces of the run-path harness: child processes that always die with us, free ports,
// a small keep-alive HTTP client, /proc CPU readings, Prometheus text parsing, statistics.
// Built-in modules only.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
export const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 23)}]`, ...a);

// ---------------------------------------------------------------- processes
// Every child runs in its own process group (detached) under `setpriv --pdeathsig KILL`, so it
// dies with this process even on SIGKILL; on exit, Ctrl-C, SIGTERM and uncaught errors every
// group still alive is killed.
const live = new Map(); // pid -> Child
const hasSetpriv = fs.existsSync('/usr/bin/setpriv');
let cleanupInstalled = false;

export function killAllChildren() {
  for (const c of live.values()) {
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {}
  }
  live.clear();
}

function installCleanup() {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', killAllChildren);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      log(`${sig}: stopping every child`);
      killAllChildren();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
  process.on('uncaughtException', (e) => {
    console.error(e);
    killAllChildren();
    process.exit(1);
  });
  process.on('unhandledRejection', (e) => {
    console.error(e);
    killAllChildren();
    process.exit(1);
  });
}

export class Child {
  // name: for logs; logDir: stdout/stderr go to <logDir>/<name>.log unless pipeStdout.
  constructor(name, cmd, args, { env = {}, cwd, logDir, pipeStdout = false } = {}) {
    installCleanup();
    this.name = name;
    this.logFile = path.join(logDir, `${name}.log`);
    const fd = fs.openSync(this.logFile, 'a');
    const [c, a] = hasSetpriv ? ['/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', cmd, ...args]] : [cmd, args];
    this.proc = spawn(c, a, {
      detached: true,
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', pipeStdout ? 'pipe' : fd, fd],
    });
    fs.closeSync(fd);
    this.pid = this.proc.pid;
    this.exited = false;
    this.exitCode = null;
    this.exitPromise = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exited = true;
        this.exitCode = code ?? signal;
        live.delete(this.pid);
        resolve(this.exitCode);
      });
      this.proc.on('error', (e) => {
        this.exited = true;
        this.exitCode = String(e);
        live.delete(this.pid);
        resolve(this.exitCode);
      });
    });
    live.set(this.pid, this);
  }

  // Resolves with the next stdout line (after the last one matched) matching `re`; rejects
  // when the process exits or after timeoutMs.
  waitForLine(re, timeoutMs) {
    if (!this.lines) {
      this.lines = [];
      this.cursor = 0;
      this.wake = () => {};
      let buf = '';
      this.proc.stdout.setEncoding('utf8');
      this.proc.stdout.on('data', (d) => {
        buf += d;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          this.lines.push(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
        this.wake();
      });
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no line ${re} within ${timeoutMs} ms`)), timeoutMs);
      const check = () => {
        while (this.cursor < this.lines.length) {
          const m = this.lines[this.cursor++].match(re);
          if (m) {
            clearTimeout(timer);
            this.wake = () => {};
            resolve(m);
            return true;
          }
        }
        return false;
      };
      if (check()) return;
      this.wake = check;
      this.exitPromise.then(() => {
        setTimeout(() => {
          if (check()) return;
          clearTimeout(timer);
          reject(new Error(`${this.name} exited (${this.exitCode}); see ${this.logFile}`));
        }, 50);
      });
    });
  }

  signal(sig) {
    if (this.exited) return;
    try {
      process.kill(-this.pid, sig);
    } catch {}
  }

  // SIGTERM (or `sig`), then SIGKILL after graceMs.
  async stop(graceMs = 5000, sig = 'SIGTERM') {
    if (this.exited) return this.exitCode;
    this.signal(sig);
    const t = sleep(graceMs).then(() => 'timeout');
    if ((await Promise.race([this.exitPromise, t])) === 'timeout') {
      this.signal('SIGKILL');
      await Promise.race([this.exitPromise, sleep(2000)]);
    }
    live.delete(this.pid);
    return this.exitCode;
  }

  kill() {
    return this.stop(0, 'SIGKILL');
  }
}

export function runSync(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 30, ...opts });
  if (r.error) throw r.error;
  return r;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------- HTTP client
export function agent(maxSockets) {
  return new http.Agent({ keepAlive: true, maxSockets });
}

export function request(url, { method = 'GET', body, agent: ag, timeoutMs = 10000, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request(
      url,
      {
        method,
        agent: ag,
        headers: data === undefined ? headers : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${url}`)));
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

// Retries network errors and 5xx/409/429 with capped exponential backoff.
export async function requestRetry(url, opts = {}, { attempts = 12, ok = (s) => s >= 200 && s < 300 } = {}) {
  let last;
  for (let i = 0; i < attempts; i++) {
    try {
      const r = await request(url, opts);
      if (ok(r.status)) return r;
      last = new Error(`${opts.method ?? 'GET'} ${url}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
      if (!(r.status >= 500 || r.status === 409 || r.status === 429)) throw last;
    } catch (e) {
      last = e;
      if (/HTTP 4\d\d/.test(e.message) && !/HTTP 409|HTTP 429/.test(e.message)) throw e;
    }
    await sleep(Math.min(2000, 50 * 2 ** i));
  }
  throw last;
}

// Runs fn over items with at most `concurrency` in flight.
export async function pool(items, concurrency, fn) {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  });
  await Promise.all(workers);
}

export async function waitFor(what, fn, timeoutMs, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

// ---------------------------------------------------------------- /proc
let clkTck;
function ticks() {
  if (clkTck === undefined) {
    try {
      clkTck = Number(runSync('getconf', ['CLK_TCK']).stdout.trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

// CPU seconds of `pid` (user + system, plus its reaped children: shell jobs' processes).
export function cpuSeconds(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / ticks();
  } catch {
    return NaN;
  }
}

export function cpuSnapshot(children) {
  const out = {};
  for (const c of children) out[c.name] = cpuSeconds(c.pid);
  return out;
}

export function cpuDelta(a, b) {
  const out = {};
  for (const k of Object.keys(a)) out[k] = round(b[k] - a[k], 2);
  return out;
}

export function loadAvg() {
  return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
}

export function fileSize(p) {
  try {
    return fs.statSync(p).size;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------- Prometheus text
// Sums the samples of `name` whose labels pass `filter(labels)`.
export function promSum(text, name, filter = () => true) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    let labels = {};
    let valueStr;
    if (rest.startsWith('{')) {
      const close = rest.indexOf('}');
      for (const m of rest.slice(1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]] = m[2];
      valueStr = rest.slice(close + 1).trim();
    } else if (rest.startsWith(' ')) {
      valueStr = rest.trim();
    } else {
      continue; // another metric with this prefix
    }
    if (filter(labels)) sum += Number(valueStr.split(' ')[0]);
  }
  return sum;
}

// ---------------------------------------------------------------- statistics and time
export function round(x, digits = 1) {
  if (x === null || x === undefined || Number.isNaN(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// Nearest-rank percentile of an ascending array (null when empty).
export function pct(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function summary(values) {
  const s = Float64Array.from(values).sort();
  return {
    n: s.length,
    p50: round(pct(s, 50)),
    p90: round(pct(s, 90)),
    p99: round(pct(s, 99)),
    max: round(s.length ? s[s.length - 1] : null),
  };
}

export function median(values) {
  const v = values.filter((x) => x !== null && x !== undefined && !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// RFC 3339 (any fraction digits) to fractional unix milliseconds.
export function parseTimeMs(s) {
  if (!s) return null;
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return Date.parse(s);
  return Date.parse(m[1] + m[3]) + (m[2] ? Number(m[2]) * 1000 : 0);
}

// A temp folder on real disk (etcd's fsync must hit a disk, not tmpfs).
export function diskTempDir(prefix) {
  for (const base of [process.env.HG_BENCH_DIR, os.tmpdir(), '/var/tmp']) {
    if (!base) continue;
    try {
      const fsType = runSync('stat', ['-f', '-c', '%T', base]).stdout.trim();
      if (fsType === 'tmpfs' || fsType === 'ramfs') continue;
      return fs.mkdtempSync(path.join(base, prefix));
    } catch {}
  }
  throw new Error('no temp folder on a real disk found (set HG_BENCH_DIR)');
}

// Copies the logs of a failed run folder into outDir/failed-<folder> (the work folder goes away).
export function saveLogs(dir, outDir) {
  if (!outDir) return null;
  const dest = path.join(outDir, `failed-${path.basename(dir)}`);
  try {
    fs.mkdirSync(dest, { recursive: true });
    for (const f of fs.readdirSync(dir)) {
      if (!(f.endsWith('.log') || f.endsWith('.json'))) continue;
      const buf = fs.readFileSync(path.join(dir, f));
      fs.writeFileSync(path.join(dest, f), buf.subarray(Math.max(0, buf.length - (2 << 20)))); // last 2 MiB
    }
  } catch {}
  return dest;
}

// The frame of one benchmark run: a run folder under cfg.workDir, step logging, every child
// stopped in reverse start order (bounded), the folder removed (its logs copied to
// cfg.out/failed-<folder> first when the run failed). `body({dir, children, step})` fills
// `result`; the frame sets result.ok / error / steps / total_s.
export async function runFrame(cfg, result, body) {
  const dir = fs.mkdtempSync(path.join(cfg.workDir, `${result.mode}-${result.executor}-n${result.n}-`));
  const started = Date.now();
  const children = [];
  Object.assign(result, { dir, steps: [] });
  const step = (s) => {
    result.steps.push(s);
    log(`${result.system} n=${result.n}: ${s}`);
  };
  try {
    await body({ dir, children, step });
    result.ok = true;
  } catch (e) {
    result.ok = false;
    result.error = String(e?.stack ?? e);
    log(`${result.system} n=${result.n} FAILED: ${e.message}`);
  } finally {
    for (const c of [...children].reverse()) await c.stop(5000);
    result.total_s = round((Date.now() - started) / 1000, 1);
    if (!result.ok) result.logs = saveLogs(dir, cfg.out);
    if (!cfg.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
  return result;
}
