#!/bin/bash
# healthcheck.sh [PORT [PATH]]: exit 0 when GET http://127.0.0.1:PORT/PATH
# answers 200 within 5 s, 1 otherwise. For docker-compose healthchecks: the
# image has no curl, so this speaks HTTP/1.0 over bash's /dev/tcp.
# Defaults: port 8400 (evolve serve), path /health.
set -u
port="${1:-8400}"
path="${2:-/health}"
{ exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || { echo "healthcheck: nothing listens on port $port" >&2; exit 1; }
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$path" "$port" >&3
status_line=""
IFS= read -r -t 5 status_line <&3 || true
exec 3<&- 3>&-
case "$status_line" in
  "HTTP/1."[01]" 200"*) exit 0 ;;
  *) echo "healthcheck: GET $path on port $port: ${status_line:-no answer}" >&2; exit 1 ;;
esac
