#!/usr/bin/env bash
# Runs every example of docs/api.md against a real `evolve serve`, so that the
# examples keep working as written.
#
#   check_api_examples.sh EVOLVE_BIN API_MD
#
# Every ```sh block of API_MD that calls curl is run, in document order, in
# one bash process (so RUN_ID=$(curl ...) in one block serves the next),
# against `evolve serve` started on a fresh SQLite file in a temporary
# directory with the bundled data, a free port and an API token
# (EVOLVE_API_TOKEN, exported to the examples too). "localhost:8400" in the
# examples is rewritten to that port. Every curl call's HTTP status is
# recorded: in a block with a line "# expect HTTP NNN" every call must answer
# NNN, in any other block every call must answer 2xx. A block that exits
# non-zero, a missing status, or a service that dies fails the test. The
# whole test is bounded by a 90 s timeout.
set -euo pipefail
evolve_bin=$1
doc=$2
for tool in curl python3; do
  command -v "$tool" >/dev/null || { echo "check_api_examples: $tool is required (scripts/install-deps.sh)" >&2; exit 1; }
done

work=$(mktemp -d)
serve_pid=
cleanup() {
  if [ -n "$serve_pid" ]; then kill -TERM "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT


export EVOLVE_API_TOKEN=docs-example-token-$$
"$evolve_bin" serve --port 0 --db "$work/evolve.db" >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
port=
for _ in $(seq 1 100); do
  port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/serve.out" 2>/dev/null | grep -o '[0-9]*$' || true)
  [ -n "$port" ] && break
  kill -0 "$serve_pid" 2>/dev/null || { echo "check_api_examples: evolve serve exited:" >&2; cat "$work/serve.err" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "check_api_examples: evolve serve did not start" >&2; exit 1; }

# The examples as one script: each block is preceded by a marker in the
# status file, and curl is wrapped to append each call's HTTP status to it.
python3 - "$doc" "$work/examples.sh" "$work/expect" "$port" <<'EOF'
import re, sys
doc, script, expect, port = sys.argv[1:5]
text = open(doc).read()
blocks = [b for b in re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M) if re.search(r"\bcurl\b", b)]
if not blocks:
    sys.exit("check_api_examples: no ```sh block with curl in " + doc)
with open(script, "w") as out, open(expect, "w") as exp:
    out.write("set -e\n")
    for i, block in enumerate(blocks):
        m = re.search(r"^# expect HTTP (\d{3})\s*$", block, re.M)
        exp.write("%d %s\n" % (i, m.group(1) if m else "2xx"))
        out.write('echo "@@block %d" >>"$STATUS_FILE"\n' % i)
        out.write('echo "--- example %d" >&2\n' % i)
        out.write(block.replace("localhost:8400", "127.0.0.1:" + port) + "\n")
EOF

status_file=$work/status
: >"$status_file"
set +e
(
  cd "$work"
  export STATUS_FILE=$status_file
  # Every curl of the examples reports its HTTP status (000: no reply).
  timeout 90 bash -c 'curl() { command curl -w "%{stderr}@@http %{http_code}\n" "$@" 2>>"$STATUS_FILE"; }
                      source ./examples.sh'
) >"$work/examples.out" 2>"$work/examples.err"
rc=$?
set -e

failed=0
python3 - "$status_file" "$work/expect" <<'EOF' || failed=1
import sys
status_file, expect_file = sys.argv[1:3]
expect = dict(line.split() for line in open(expect_file))
got, block = {}, None
for line in open(status_file):
    if line.startswith("@@block "):
        block = line.split()[1]
        got[block] = []
    elif line.startswith("@@http ") and block is not None:
        got[block].append(line.split()[1])
bad = 0
for b, want in expect.items():
    codes = got.get(b)
    if codes is None:
        print("example %s: not run" % b); bad += 1; continue
    if not codes:
        print("example %s: made no HTTP call" % b); bad += 1; continue
    ok = all(c.startswith("2") for c in codes) if want == "2xx" else all(c == want for c in codes)
    if not ok:
        print("example %s: HTTP %s, expected %s" % (b, " ".join(codes), want)); bad += 1
print("%d examples, %d HTTP calls, %d bad" % (len(expect), sum(len(c) for c in got.values()), bad))
sys.exit(1 if bad else 0)
EOF

if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ] || ! kill -0 "$serve_pid" 2>/dev/null; then
  echo "check_api_examples: FAILED (examples exit $rc)" >&2
  echo "--- examples' stdout (last 2000 bytes)" >&2; tail -c 2000 "$work/examples.out" >&2; echo >&2
  echo "--- examples' stderr (tail)" >&2; grep -v '^@@' "$work/examples.err" | tail -20 >&2
  echo "--- curl messages" >&2; grep -v '^@@' "$status_file" | tail -20 >&2
  echo "--- evolve serve's log (tail)" >&2; tail -20 "$work/serve.err" >&2
  exit 1
fi
# The service stops gracefully on SIGTERM.
kill -TERM "$serve_pid"
if ! wait "$serve_pid"; then
  echo "check_api_examples: evolve serve did not exit 0 on SIGTERM" >&2; tail -20 "$work/serve.err" >&2; exit 1
fi
serve_pid=
echo "check_api_examples: every example of $doc works"
