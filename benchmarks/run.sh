#!/usr/bin/env bash
# Reproduces the figures of benchmarks/README.md on this machine: the page-cache write
# bandwidth as dd measures it, riffle's log, and the Nexmark queries. Each figure is the
# best of RUNS runs (default 3). Output: JSON lines on stdout, progress on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
bin=$(mktemp -d)/riffle
go build -o "$bin" ./cmd/riffle
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

best() { # best of RUNS for a command printing a JSON line with field $1 last
  local field=$1; shift
  local best="" line v
  for _ in $(seq "$RUNS"); do
    rm -rf "$work/data"
    line=$("$@" | tail -1)
    v=$(printf '%s' "$line" | sed -n "s/.*\"$field\":\([0-9.e+]*\).*/\1/p")
    if [ -z "$best" ] || awk "BEGIN{exit !($v > $(printf '%s' "$best" | sed -n "s/.*\"$field\":\([0-9.e+]*\).*/\1/p"))}"; then
      best=$line
    fi
  done
  printf '%s\n' "$best"
}

echo "dd (page cache, 2 GiB, bs=1M), best of $RUNS:" >&2
ddbest=0
for _ in $(seq "$RUNS"); do
  s=$(dd if=/dev/zero of="$work/dd" bs=1M count=2048 2>&1 | tail -1 | awk '{print $(NF-3)}')
  rm -f "$work/dd"
  ddbest=$(awk "BEGIN{print ($s > $ddbest) ? $s : $ddbest}")
done
echo "{\"bench\":\"dd\",\"seconds\":$ddbest,\"mb_per_sec\":$(awk "BEGIN{print 2147.483648/$ddbest}")}"

echo "log: async appends, 1 KiB and 100 B; sync appends, 64 producers" >&2
echo "{\"bench\":\"log-async-1k\",$(best mb_per_sec "$bin" log bench --data "$work/data" --messages 2000000 --size 1024 | sed 's/^{//')"
echo "{\"bench\":\"log-async-100\",$(best msgs_per_sec "$bin" log bench --data "$work/data" --messages 5000000 --size 100 | sed 's/^{//')"
echo "{\"bench\":\"log-consume-1k\",$(best msgs_per_sec "$bin" log bench --data "$work/data" --messages 2000000 --size 1024 --consume | sed 's/^{//')"
echo "{\"bench\":\"log-sync-64\",$(best msgs_per_sec "$bin" log bench --data "$work/data" --messages 200000 --size 1024 --producers 64 --sync | sed 's/^{//')"

echo "nexmark: every implemented query, 10 M events, parallelism 1, with baseline" >&2
"$bin" nexmark bench --all --events 10000000
