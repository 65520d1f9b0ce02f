#!/usr/bin/env bash
# 100,000 jobs on one leader (BENCHMARKS.md "100,000 jobs on one leader"): a fresh etcd seeded with
# JOBS definitions (bench/seed_jobs.cc: PER_SECOND every-second jobs, SAME_INSTANT jobs at second 0
# of every minute, the rest once a minute at second i % 60), one master and one worker running
# `true`. MASTER_WRAPPER prefixes the master's command (e.g. `env MALLOC_ARENA_MAX=2`). Prints, from the master's own log and /proc:
#   ready_s   "became leader" → "loaded jobs" (definitions, cursors and the timer heap built)
#   rss_mb    the master's resident memory after SECONDS of steady state (and the peak)
#   cpu_pct   the master's CPU over the last 30 s, % of one core
# and, with SAME_INSTANT > 0, the start lag of the herd's first instant from its records.
#
#   bench/leader/run.sh                      # JOBS=100000 PER_SECOND=1000 SAME_INSTANT=0
#   JOBS=10000 PER_SECOND=0 SAME_INSTANT=10000 bench/leader/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${HOURGLASS:-build/release/src/app/hourglass}
SEED=${SEED_JOBS:-build/release/bench/seed_jobs}
JOBS=${JOBS:-100000}
PER_SECOND=${PER_SECOND:-1000}
SAME_INSTANT=${SAME_INSTANT:-0}
SECONDS_STEADY=${SECONDS_STEADY:-90}
CAPACITY=${CAPACITY:-64}
DIR=$(mktemp -d /tmp/hg-leader-XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
EP=$(free_port); PP=$(free_port); HP=$(free_port); GP=$(free_port); MP=$(free_port)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; [[ -n "${KEEP:-}" ]] || rm -rf "$DIR"; }
trap cleanup EXIT

etcd --name bench --data-dir "$DIR/etcd" --listen-client-urls "http://127.0.0.1:$EP" \
  --advertise-client-urls "http://127.0.0.1:$EP" --listen-peer-urls "http://127.0.0.1:$PP" \
  --initial-advertise-peer-urls "http://127.0.0.1:$PP" --initial-cluster "bench=http://127.0.0.1:$PP" \
  --quota-backend-bytes 8589934592 --log-level error >"$DIR/etcd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$EP/health" >/dev/null && break; sleep 0.1; done
"$SEED" --etcd="127.0.0.1:$EP" --jobs="$JOBS" --per-second="$PER_SECOND" --same-instant="$SAME_INSTANT" 2>&1

"$BIN" worker --etcd "http://127.0.0.1:$EP" --grpc "127.0.0.1:$GP" --metrics "127.0.0.1:$MP" \
  --id bench-worker --capacity "$CAPACITY" --log-format json --log-level warn >"$DIR/worker.log" 2>&1 &
pids+=($!)
${MASTER_WRAPPER:-} "$BIN" master --etcd "http://127.0.0.1:$EP" --http "127.0.0.1:$HP" --id bench-master \
  --rate-limit 0 --log-format json --log-level info >"$DIR/master.log" 2>&1 &
MASTER=$!
pids+=($MASTER)
for _ in $(seq 600); do grep -q '"loaded jobs"' "$DIR/master.log" && break; sleep 0.1; done
ms_of() { grep -m1 "\"$1\"" "$DIR/master.log" | python3 -c 'import sys,json,datetime; t=json.loads(sys.stdin.read())["time"]; print(int(datetime.datetime.fromisoformat(t.replace("Z","+00:00")).timestamp()*1000))'; }
echo "ready_s $(python3 -c "print(($(ms_of 'loaded jobs') - $(ms_of 'became leader'))/1000)")"
peak=0
sample_cpu() { awk '{print $14+$15}' "/proc/$MASTER/stat"; }
hz=$(getconf CLK_TCK)
for s in $(seq "$SECONDS_STEADY"); do
  sleep 1
  rss=$(awk '/VmRSS/{print int($2/1024)}' "/proc/$MASTER/status")
  (( rss > peak )) && peak=$rss
  if (( s == SECONDS_STEADY - 30 )); then c0=$(sample_cpu); fi
done
c1=$(sample_cpu)
echo "rss_mb $rss peak_mb $peak"
echo "cpu_pct $(python3 -c "print(round(($c1-$c0)/$hz/30*100,1))")"
if (( SAME_INSTANT > 0 )); then
  # The herd's instants: every job job-<PER_SECOND..PER_SECOND+SAME_INSTANT-1> at second 0.
  python3 - "$HP" "$PER_SECOND" "$SAME_INSTANT" <<'PY'
import json, sys, urllib.request, datetime, statistics
hp, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lags = []; by_instant = {}
for i in range(first, first + n):
    with urllib.request.urlopen(f"http://127.0.0.1:{hp}/jobs/job-{i:06d}/history?page_size=5") as r:
        for e in json.load(r):
            if e.get("trigger") != "schedule" or not e.get("start_time"): continue
            t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
            by_instant.setdefault(e["scheduled_time"], []).append(t(e["start_time"]) - t(e["scheduled_time"]))
for instant, l in sorted(by_instant.items()):
    l.sort()
    print(f"herd {instant}: started {len(l)}/{n}, lag p50 {l[len(l)//2]:.3f} s, p99 {l[int(len(l)*0.99)-1]:.3f} s, max {l[-1]:.3f} s")
PY
fi
