#!/bin/bash
# test_healthcheck.sh HEALTHCHECK EVOLVE: docker/healthcheck.sh against a
# real `evolve serve` on a free port: 0 for /health, 1 for a 404 path and
# for a port nobody listens on.
set -u
hc="$1"; evolve="$2"
work="$(mktemp -d)"
"$evolve" serve --port 0 --db "$work/evolve.db" --workers 0 >"$work/out" 2>"$work/err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
port=""
for _ in $(seq 100); do
  port="$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$work/out")"
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "FAIL evolve serve did not start: $(cat "$work/err")"; exit 1; }
failures=0
"$hc" "$port" /health && echo "ok   /health is 200" || { echo "FAIL /health"; failures=$((failures + 1)); }
"$hc" "$port" /no-such-path 2>/dev/null && { echo "FAIL a 404 passed"; failures=$((failures + 1)); } || echo "ok   a 404 fails"
kill $pid; wait $pid 2>/dev/null
"$hc" "$port" 2>/dev/null && { echo "FAIL a closed port passed"; failures=$((failures + 1)); } || echo "ok   a closed port fails"
echo "$failures failure(s)"
[ "$failures" -eq 0 ]
