// The peer of the fire-lag benchmark: BullMQ (installed into a scratch folder by peer.mjs, never
// committed) on a local Redis. N job schedulers fire every second (cron pattern with seconds,
// like Hourglass's `* * * * * *`); one Worker with the same concurrency as Hourglass's worker
// runs them; each processor call records its entry time and GETs the same no-op receiver
// (/p/<scheduler>/<scheduled ms>) the Hourglass jobs call.
//
//   node bullmq_peer.mjs '<json config>'   config: {bullmq, redisPort, n, windowS, tailS,
//                                                    concurrency, receiverUrl, out}
// Prints "T0 <ms>" when the window starts and "T1 <ms>" when it ends (the harness reads CPU of
// Redis and of this process at those moments); writes the processor entries to `out`.
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const cfg = JSON.parse(process.argv[2]);
const require = createRequire(`${cfg.bullmq}/package.json`);
const { Queue, Worker } = await import(pathToFileURL(require.resolve('bullmq')).href);
const IORedis = (await import(pathToFileURL(require.resolve('ioredis')).href)).default;

const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const nowMs = () => performance.timeOrigin + performance.now();
const connection = { host: '127.0.0.1', port: cfg.redisPort, maxRetriesPerRequest: null };
const queueName = 'bench';
const ag = new http.Agent({ keepAlive: true, maxSockets: cfg.concurrency });

function get(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: ag }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
  });
}

const infoClient = new IORedis({ host: '127.0.0.1', port: cfg.redisPort });
async function redisInfo() {
  const info = await infoClient.info();
  const field = (k) => Number((new RegExp(`^${k}:(\\d+)`, 'm').exec(info) ?? [])[1] ?? NaN);
  return { commands: field('total_commands_processed'), memory: field('used_memory') };
}

const entries = []; // [scheduler id, scheduled ms, processor entry ms]
const queue = new Queue(queueName, { connection });
await queue.obliterate({ force: true }).catch(() => {});
const worker = new Worker(
  queueName,
  async (job) => {
    const entry = nowMs();
    const sched = Number(job.opts.prevMillis ?? job.id.split(':').pop());
    const key = job.repeatJobKey ?? job.opts.repeatJobKey ?? job.name;
    entries.push([key, sched, entry]);
    await get(`${cfg.receiverUrl}/p/${key}/${sched}`);
  },
  { connection, concurrency: cfg.concurrency },
);
worker.on('error', (e) => console.error('worker error', e?.message ?? e));
await worker.waitUntilReady();

const ids = Array.from({ length: cfg.n }, (_, i) => `bench-${String(i + 1).padStart(5, '0')}`);
const regStart = Date.now();
let next = 0;
await Promise.all(Array.from({ length: 16 }, async () => {
  while (next < ids.length) {
    const id = ids[next++];
    await queue.upsertJobScheduler(id, { pattern: '* * * * * *' }, { name: 'tick', data: {} });
  }
}));
const registerS = (Date.now() - regStart) / 1000;

const t0 = (Math.ceil(Date.now() / 1000) + 1) * 1000;
const t1 = t0 + cfg.windowS * 1000;
await sleep(t0 - Date.now());
console.log(`T0 ${t0}`);
const infoA = await redisInfo();
await sleep(t1 - Date.now());
console.log(`T1 ${t1}`);
const infoB = await redisInfo();

const pauseStart = Date.now();
next = 0;
await Promise.all(Array.from({ length: 16 }, async () => {
  while (next < ids.length) await queue.removeJobScheduler(ids[next++]);
}));
const pauseS = (Date.now() - pauseStart) / 1000;
await sleep(cfg.tailS * 1000);

// Jobs of the window that are still waiting, delayed or active after the tail.
const counts = await queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized', 'failed', 'completed');
const pending = [];
for (const state of ['waiting', 'delayed', 'active', 'prioritized']) {
  for (const job of await queue.getJobs([state], 0, -1)) {
    const sched = Number(job.opts.prevMillis ?? String(job.id).split(':').pop());
    if (sched >= t0 && sched < t1) pending.push(state);
  }
}
fs.writeFileSync(cfg.out, JSON.stringify({
  t0, t1, register_s: registerS, pause_s: pauseS, entries, counts,
  left_waiting: pending.filter((s) => s !== 'active').length,
  left_active: pending.filter((s) => s === 'active').length,
  redis_commands: infoB.commands - infoA.commands,
  redis_memory_delta: infoB.memory - infoA.memory,
  bullmq_version: JSON.parse(fs.readFileSync(`${cfg.bullmq}/node_modules/bullmq/package.json`, 'utf8')).version,
}));
await worker.close(true);
await queue.close();
infoClient.disconnect();
ag.destroy();
console.log('DONE');
process.exit(0);
