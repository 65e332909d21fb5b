#!/bin/bash
# test_entrypoint.sh ENTRYPOINT: runs docker/entrypoint.sh with fake evolve,
# evolve-worker and evolve-engines on PATH (they print their name, argv and
# a few variables) and checks each command's translation, and the refusal
# to serve on a non-loopback address without a token. No Docker needed.
set -u
entry="${1:?usage: test_entrypoint.sh ENTRYPOINT}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"
for b in evolve evolve-worker evolve-engines; do
  cat > "$work/bin/$b" <<'STUB'
#!/bin/sh
echo "BIN=$(basename "$0")"
for a in "$@"; do echo "ARG=$a"; done
echo "ENV EVOLVE_API_TOKEN=${EVOLVE_API_TOKEN:-} POSTGRES_URL=${POSTGRES_URL:-} WORKER_ID=${WORKER_ID:-}"
STUB
  chmod +x "$work/bin/$b"
done

failures=0
# run VAR=VALUE... -- ARGS...: the entrypoint in a clean environment.
run() {
  local envs=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  out="$(env -i PATH="$work/bin:/usr/bin:/bin" "${envs[@]}" "$entry" "$@" 2>"$work/stderr")"
  rc=$?
  err="$(cat "$work/stderr")"
}
# argv of the last run, one line, "BIN arg arg ..."
argv() { printf '%s\n' "$out" | sed -n 's/^BIN=//p; s/^ARG=//p' | paste -sd' '; }
expect() {  # expect NAME RC ARGV
  local name="$1" want_rc="$2" want_argv="$3" got
  got="$(argv)"
  if [ "$rc" != "$want_rc" ] || [ "$got" != "$want_argv" ]; then
    echo "FAIL $name: rc=$rc (want $want_rc) argv='$got' (want '$want_argv') stderr: $err"
    failures=$((failures + 1))
  else
    echo "ok   $name: $got"
  fi
}
expect_err() {  # expect_err NAME TEXT: stderr contains TEXT
  case "$err" in
    *"$2"*) echo "ok   $1: stderr mentions '$2'" ;;
    *) echo "FAIL $1: stderr does not mention '$2': $err"; failures=$((failures + 1)) ;;
  esac
}
expect_out() {
  case "$out" in
    *"$2"*) echo "ok   $1: output has '$2'" ;;
    *) echo "FAIL $1: output lacks '$2': $out"; failures=$((failures + 1)) ;;
  esac
}

# serve: refused on 0.0.0.0 (the default) without a token, before starting anything.
run --;                                   expect "default is serve, refused without token" 2 ""
expect_err "refusal names the variables" "EVOLVE_API_TOKEN"
expect_err "refusal names the escape hatch" "EVOLVE_INSECURE=1"
run -- serve;                             expect "serve refused without token" 2 ""
run EVOLVE_INSECURE=yes -- serve;         expect "EVOLVE_INSECURE must be exactly 1" 2 ""
run EVOLVE_API_TOKEN= -- serve;           expect "empty token is no token" 2 ""
run EVOLVE_HOST=10.1.2.3 -- serve;        expect "other non-loopback host refused" 2 ""
# serve: accepted.
run EVOLVE_API_TOKEN=s3cret -- serve;     expect "serve with token" 0 "evolve serve --host 0.0.0.0 --port 8400"
expect_out "token reaches the binary through the environment" "EVOLVE_API_TOKEN=s3cret"
run EVOLVE_API_TOKEN=t PORT=9000 EVOLVE_WORKERS=0 POSTGRES_URL=postgresql://u@db/x -- serve --run-threads 4
expect "serve PORT, EVOLVE_WORKERS, extra args" 0 "evolve serve --host 0.0.0.0 --port 9000 --run-threads 4 --workers 0"
expect_out "POSTGRES_URL passes through" "POSTGRES_URL=postgresql://u@db/x"
run EVOLVE_INSECURE=1 -- serve;           expect "EVOLVE_INSECURE=1 adds --insecure" 0 "evolve serve --host 0.0.0.0 --port 8400 --insecure"
expect_err "EVOLVE_INSECURE=1 warns" "without a token"
run EVOLVE_INSECURE=1 EVOLVE_API_TOKEN=t -- serve
expect "token wins over EVOLVE_INSECURE" 0 "evolve serve --host 0.0.0.0 --port 8400"
for h in 127.0.0.1 127.0.0.2 localhost ::1; do
  run EVOLVE_HOST=$h -- serve;            expect "loopback $h needs no token" 0 "evolve serve --host $h --port 8400"
done
echo tok > "$work/token"
run EVOLVE_API_TOKEN_FILE="$work/token" -- serve
expect "EVOLVE_API_TOKEN_FILE becomes --token-file" 0 "evolve serve --host 0.0.0.0 --port 8400 --token-file $work/token"
run EVOLVE_API_TOKEN_FILE="$work/missing" -- serve
expect "unreadable EVOLVE_API_TOKEN_FILE is an error" 2 ""
expect_err "unreadable token file named" "$work/missing"

# worker
run POSTGRES_URL=postgresql://u@db/x WORKER_ID=w7 -- worker
expect "worker" 0 "evolve-worker"
expect_out "worker env passes through" "POSTGRES_URL=postgresql://u@db/x WORKER_ID=w7"
run WORKER_CONCURRENCY=4 -- worker --lease 30
expect "worker WORKER_CONCURRENCY, extra args" 0 "evolve-worker --concurrency 4 --lease 30"
run -- worker --orchestrator http://o:8400
expect "worker through the orchestrator" 0 "evolve-worker --orchestrator http://o:8400"

# engines
run -- engines;                           expect "engines, SQLite models" 0 "evolve-engines --host 0.0.0.0"
run POSTGRES_URL=postgresql://u@db/x -- engines --training-threads 2
expect "engines, models in PostgreSQL" 0 "evolve-engines --host 0.0.0.0 --store postgresql://u@db/x --training-threads 2"
run EVOLVE_HOST=127.0.0.1 -- engines;     expect "engines EVOLVE_HOST" 0 "evolve-engines --host 127.0.0.1"

# evolve's other commands and the binaries by name
run POSTGRES_URL=postgresql://u@db/x -- migrate
expect "migrate" 0 "evolve migrate"
for c in run runs show promoted lineage symbols features; do
  run -- $c --json x;                     expect "$c" 0 "evolve $c --json x"
done
run -- evolve --help;                     expect "evolve by name" 0 "evolve --help"
run -- evolve-worker --once;              expect "evolve-worker by name" 0 "evolve-worker --once"
run -- evolve-engines --help;             expect "evolve-engines by name" 0 "evolve-engines --help"
run -- sh -c 'echo BIN=shell';            expect "sh" 0 "shell"
run -- help;                              expect "help" 0 ""
expect_out "help lists the commands" "serve    evolve serve --host"
run -- frobnicate;                        expect "unknown command" 2 ""
expect_err "unknown command named" "unknown command 'frobnicate'"

# The binary replaces the shell (exec), so it is PID 1 in a container and
# gets SIGTERM itself: no line of the script runs after a dispatch.
if grep -E '^\s+(evolve|evolve-worker|evolve-engines) ' "$entry" | grep -v '^\s*#' | grep -qv exec; then
  echo "FAIL a binary is started without exec"; failures=$((failures + 1))
else
  echo "ok   every binary is started with exec"
fi

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
