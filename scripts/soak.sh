#!/usr/bin/env bash
# soak.sh: run the example service under its built-in load for a while (default 10 minutes) and
# sample memdiag's view of the process every 30 s, to show that the heap and the goroutine count
# stay flat while the Monitor ticks, takes full reports and serves its endpoints. Not run in CI.
#
#   scripts/soak.sh [minutes] [load-rps]      # prints a table; exits 1 if heap or goroutines grew
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
rps=${2:-500}
port=${SOAK_PORT:-18080}
base="http://127.0.0.1:$port"
bin=$(mktemp -d)/service
go build -o "$bin" ./examples/service
# -leak=false: the demo's deliberate goroutine leak would make the goroutine count grow by design.
"$bin" -addr "127.0.0.1:$port" -leak=false -load-rps "$rps" -full-interval 30s >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fsS "$base/metrics" >/dev/null 2>&1 && break; sleep 0.2; done

metric() { curl -fsS "$base/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
printf '%8s %14s %14s %10s %12s %8s\n' elapsed heap_live_B resident_B goroutines ticks reports
samples=$((minutes * 2))
first_heap="" first_g="" max_heap=0 max_g=0
for i in $(seq 0 "$samples"); do
  # Exercise the endpoints a person or a scraper would, so their cost is part of the soak.
  curl -fsS "$base/debug/memdiag/report.json" >/dev/null
  curl -fsS "$base/debug/memdiag/" >/dev/null
  heap=$(metric memdiag_heap_live_bytes); res=$(metric memdiag_resident_bytes)
  g=$(metric memdiag_goroutines); ticks=$(metric memdiag_monitor_ticks_total)
  reports=$(metric memdiag_monitor_full_reports_total)
  printf '%7ss %14.0f %14.0f %10.0f %12.0f %8.0f\n' $((i * 30)) "$heap" "$res" "$g" "$ticks" "$reports"
  if [ "$i" -eq 2 ]; then first_heap=$heap; first_g=$g; fi   # after a minute of warm-up
  if [ "$i" -ge 2 ]; then
    max_heap=$(awk -v a="$max_heap" -v b="$heap" 'BEGIN{print (b > a) ? b : a}')
    max_g=$(awk -v a="$max_g" -v b="$g" 'BEGIN{print (b > a) ? b : a}')
  fi
  [ "$i" -lt "$samples" ] && sleep 30
done
# Flat: after warm-up, the largest value stays within 50% (heap) and +20 (goroutines) of the first.
awk -v h0="$first_heap" -v hm="$max_heap" -v g0="$first_g" -v gm="$max_g" 'BEGIN{
  printf "after warm-up: heap live %.1f MiB -> max %.1f MiB; goroutines %d -> max %d\n", h0/1048576, hm/1048576, g0, gm
  exit !(hm <= h0 * 1.5 && gm <= g0 + 20) }'
