// Reference implementations for tests/cron/differential_test.cc (test-only).
// Usage: node reference.mjs CASES.jsonl OUT.jsonl
// Each input line: {"expr": "...", "zone": "America/New_York", "from": <unix seconds>, "n": 5}
// Each output line: {"croner": [unix seconds...] | "error: ...", "cronParser": [...] | "error: ..."}
import { readFileSync, writeFileSync } from 'node:fs';
import { Cron } from 'croner';
import { CronExpressionParser } from 'cron-parser';

function withCroner({ expr, zone, from, n }) {
  try {
    const job = new Cron(expr, { timezone: zone, paused: true });
    const runs = job.nextRuns(n, new Date(from * 1000));
    job.stop();
    return runs.map((d) => d.getTime() / 1000);
  } catch (e) {
    return `error: ${e.message}`;
  }
}

function withCronParser({ expr, zone, from, n }) {
  try {
    const it = CronExpressionParser.parse(expr, { currentDate: new Date(from * 1000), tz: zone });
    const out = [];
    for (let i = 0; i < n; i++) out.push(it.next().getTime() / 1000);
    return out;
  } catch (e) {
    return `error: ${e.message}`;
  }
}

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: node reference.mjs CASES.jsonl OUT.jsonl');
  process.exit(2);
}
const lines = readFileSync(input, 'utf8').split('\n').filter((l) => l.length > 0);
const results = lines.map((line) => {
  const c = JSON.parse(line);
  return JSON.stringify({ croner: withCroner(c), cronParser: withCronParser(c) });
});
writeFileSync(output, results.join('\n') + '\n');
