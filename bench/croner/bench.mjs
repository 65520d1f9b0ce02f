// croner's nextRun() throughput on the expressions and walk of bench/cron_bench.cc.
// Usage: node bench.mjs [repetitions] [seconds-per-repetition]
// Prints one JSON line per expression and zone:
//   {"name": ..., "ops": [wall-clock ops/s per repetition], "cpuOps": [CPU-time ops/s ...]}.
import { Cron } from 'croner';

const expressions = ['*/10 * * * * *', '0 30 9 * * MON-FRI', '0 0 0 L * ?', '0 0 9 * * MON#1'];
const zones = ['America/New_York', 'UTC'];
const reps = Number(process.argv[2] ?? 5);
const seconds = Number(process.argv[3] ?? 0.5);
const start = new Date('2026-01-01T00:00:00Z');
const end = new Date('2126-01-01T00:00:00Z');

function measure(job) {
  let t = start;
  let n = 0;
  const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  // Check the clock every 1000 calls so that timing costs stay out of the loop.
  while (process.hrtime.bigint() < deadline) {
    for (let i = 0; i < 1000; i++) {
      const next = job.nextRun(t);
      t = next && next < end ? next : start;
    }
    n += 1000;
  }
  const cpu = process.cpuUsage(c0);
  return { wall: n / (Number(process.hrtime.bigint() - t0) / 1e9), cpu: n / ((cpu.user + cpu.system) / 1e6) };
}

for (const zone of zones) {
  for (const expr of expressions) {
    const job = new Cron(expr, { timezone: zone, paused: true });
    measure(job);  // warm-up (JIT)
    const ops = [];
    const cpuOps = [];
    for (let r = 0; r < reps; r++) {
      const m = measure(job);
      ops.push(m.wall);
      cpuOps.push(m.cpu);
    }
    job.stop();
    console.log(JSON.stringify({ name: `${zone}/${expr}`, ops, cpuOps }));
  }
}
