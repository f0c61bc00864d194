#!/bin/bash
# Where one-in-flight RTT goes, per side: traces the system calls of a benchmark server and client (perf, root or
# perf_event_paranoid <= 1) during a one-in-flight run, and prints, for each process, the time from a read()
# returning to the next write() entering: the JavaScript one side runs per exchange before it answers.
#
# usage: bash bench/trace-turnaround.sh [IMPL] [PAYLOAD_BYTES]     (after npm run build:test)
#   IMPL: raw-tcp, raw-ws, fastsocket-tcp (default), fastsocket-ws. The client warms up with 20,000 exchanges first,
#   then perf records for one second of the measured run.
set -euo pipefail
IMPL=${1:-fastsocket-tcp}
BYTES=${2:-100}
cd "$(dirname "$0")/.."
command -v perf >/dev/null || { echo "trace-turnaround: needs perf (apt install linux-perf)" >&2; exit 2; }
[ -f build/bench/protocol-server.js ] || { echo "trace-turnaround: run npm run build:test first" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'kill $SP 2>/dev/null || true; rm -rf "$TMP"' EXIT
node build/bench/protocol-server.js "$IMPL" > "$TMP/server.out" &
SP=$!
for _ in $(seq 100); do grep -q listening "$TMP/server.out" 2>/dev/null && break; sleep 0.1; done
URL=$(node -e "const l=require('fs').readFileSync(process.argv[1],'utf8').split('\n').find(s=>s.includes('listening'));console.log(JSON.parse(l).url)" "$TMP/server.out")
node build/bench/protocol-client.js --impl "$IMPL" --url "$URL" --payload-bytes "$BYTES" --rtt-warmup 20000 --rtt-count 30000 > "$TMP/client.out" &
CP=$!
sleep 2
perf record -q -e raw_syscalls:sys_enter,raw_syscalls:sys_exit -p "$SP,$CP" -o "$TMP/perf.data" sleep 1 2>/dev/null
wait $CP
echo "$IMPL $BYTES B: $(tail -1 "$TMP/client.out")"
perf script -i "$TMP/perf.data" 2>/dev/null | python3 -c '
import re, sys
server, client = int(sys.argv[1]), int(sys.argv[2])
READ, WRITES = 0, (1, 20)  # x86-64: read, write, writev
last_read = {server: None, client: None}
gaps = {server: [], client: []}
pattern = re.compile(r"\s*\S+\s+(\d+)\s+\[\d+\]\s+([\d.]+):\s+raw_syscalls:sys_(enter|exit):\s+NR (\d+)(.*)")
for line in sys.stdin:
    m = pattern.match(line)
    if not m or int(m[1]) not in gaps:
        continue
    tid, t, kind, nr = int(m[1]), float(m[2]) * 1e6, m[3], int(m[4])
    if nr == READ and kind == "exit" and not m[5].strip().endswith("-11"):
        last_read[tid] = t
    elif nr in WRITES and kind == "enter" and last_read[tid] is not None:
        gaps[tid].append(t - last_read[tid])
        last_read[tid] = None
for name, tid in (("server", server), ("client", client)):
    g = sorted(gaps[tid])
    if not g:
        print(f"  {name}: no read followed by a write was traced")
        continue
    print(f"  {name}: read -> write p50 {g[len(g) // 2]:.0f} us, p90 {g[len(g) * 9 // 10]:.0f} us over {len(g)} exchanges")
' "$SP" "$CP"
