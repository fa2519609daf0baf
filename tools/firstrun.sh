#!/bin/bash
# firstrun.sh DIR: times the README's main command as a newcomer meets it —
# a fresh clone of this checkout, empty Go module and build caches — from
# `go build` until `sfp server status --json` shows every component up.
set -u
D=${1:-/tmp/sfp-firstrun}
src=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
rm -rf "$D"; mkdir -p "$D"
git clone -q "$src" "$D/repo"
cd "$D/repo"
export GOMODCACHE=$D/mod GOCACHE=$D/cache GOPATH=$D/gopath SFP_PORT_START=${SFP_PORT_START:-47000}
t0=$(date +%s.%N)
/usr/bin/time -f "build: wall %e s, user %U s, sys %S s" go build -o bin/sfp ./cmd/sfp || exit 1
t1=$(date +%s.%N)
bin/sfp server start -t dev > "$D/start.log" 2>&1 &
pid=$!
up() {
  bin/sfp server status -t dev --json 2>/dev/null | python3 -c 'import json,sys
s=json.load(sys.stdin)
sys.exit(0 if s.get("running") and all(c.get("state")=="up" for c in s.get("components",[])) else 1)' 2>/dev/null
}
for _ in $(seq 1 600); do up && break; sleep 0.2; done
t2=$(date +%s.%N)
echo "build $(echo "$t1-$t0" | bc) s; start until ready $(echo "$t2-$t1" | bc) s; total $(echo "$t2-$t0" | bc) s"
kill -INT $pid; wait $pid
