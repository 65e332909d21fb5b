#!/bin/sh
# The libevolve image's entrypoint: the first argument names what to run,
# the environment fills in the flags, further arguments are passed on.
#
#   serve    evolve serve --host $EVOLVE_HOST --port $PORT [--workers $EVOLVE_WORKERS]
#            [--token-file $EVOLVE_API_TOKEN_FILE] [--insecure] ARGS...
#   worker   evolve-worker [--concurrency $WORKER_CONCURRENCY] ARGS...
#   engines  evolve-engines --host $EVOLVE_HOST [--store $POSTGRES_URL] ARGS...
#   migrate, run, runs, show, promoted, lineage, symbols, features
#            evolve COMMAND ARGS...
#   evolve, evolve-worker, evolve-engines   that binary, ARGS as given
#   sh, bash a shell (debugging)
#   help     this text
#
# The binaries read the rest of their environment themselves (POSTGRES_URL,
# EVOLVE_API_TOKEN, FEATURE_URL, TRAINING_URL, SIMULATION_URL, WORKER_ID,
# POLL_INTERVAL, LOG_LEVEL, ...: docs/cli.md, docs/api.md).
#
# Like `evolve serve` itself, `serve` refuses a non-loopback address without
# a token (EVOLVE_API_TOKEN or EVOLVE_API_TOKEN_FILE) unless EVOLVE_INSECURE=1,
# and says so before starting anything (exit 2, as for a bad option).
set -eu

usage() {
  sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
}

is_loopback() {
  case "$1" in
    127.*|localhost|::1|'[::1]') return 0 ;;
    *) return 1 ;;
  esac
}

fail() {
  echo "entrypoint: error: $*" >&2
  exit 2
}

cmd="${1:-serve}"
[ $# -gt 0 ] && shift

case "$cmd" in
  serve)
    host="${EVOLVE_HOST:-0.0.0.0}"
    port="${PORT:-8400}"
    set -- --host "$host" --port "$port" "$@"
    if [ -n "${EVOLVE_WORKERS:-}" ]; then
      set -- "$@" --workers "$EVOLVE_WORKERS"
    fi
    has_token=no
    [ -n "${EVOLVE_API_TOKEN:-}" ] && has_token=yes
    if [ -n "${EVOLVE_API_TOKEN_FILE:-}" ]; then
      [ -r "$EVOLVE_API_TOKEN_FILE" ] || fail "EVOLVE_API_TOKEN_FILE: cannot read $EVOLVE_API_TOKEN_FILE"
      set -- "$@" --token-file "$EVOLVE_API_TOKEN_FILE"
      has_token=yes
    fi
    if [ "$has_token" = no ] && ! is_loopback "$host"; then
      if [ "${EVOLVE_INSECURE:-0}" = 1 ]; then
        echo "entrypoint: warning: serving on $host without a token (EVOLVE_INSECURE=1): anyone who reaches the port can start and cancel runs" >&2
        set -- "$@" --insecure
      else
        fail "refusing to serve on $host without a token: set EVOLVE_API_TOKEN (or EVOLVE_API_TOKEN_FILE), or EVOLVE_INSECURE=1 for a trusted network"
      fi
    fi
    exec evolve serve "$@"
    ;;
  worker)
    if [ -n "${WORKER_CONCURRENCY:-}" ]; then
      set -- --concurrency "$WORKER_CONCURRENCY" "$@"
    fi
    exec evolve-worker "$@"
    ;;
  engines)
    host="${EVOLVE_HOST:-0.0.0.0}"
    if [ -n "${POSTGRES_URL:-}" ]; then
      set -- --store "$POSTGRES_URL" "$@"
    fi
    exec evolve-engines --host "$host" "$@"
    ;;
  migrate|run|runs|show|promoted|lineage|symbols|features)
    exec evolve "$cmd" "$@"
    ;;
  evolve|evolve-worker|evolve-engines)
    exec "$cmd" "$@"
    ;;
  sh|bash)
    exec "$cmd" "$@"
    ;;
  help|-h|--help)
    usage
    ;;
  *)
    usage >&2
    fail "unknown command '$cmd' (serve, worker, engines, migrate, run, runs, show, promoted, lineage, symbols, features, evolve, evolve-worker, evolve-engines, sh, help)"
    ;;
esac
