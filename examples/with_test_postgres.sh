#!/bin/sh
# Runs COMMAND with POSTGRES_URL naming a fresh database on the throwaway
# server of the `evolve_postgres` CTest fixture (scripts/test-postgres.sh,
# whose URL is in $EVOLVE_TEST_POSTGRES_DIR/url), and drops the database
# afterwards. Without psql, COMMAND gets the server's own database instead
# (the examples create runs with new random ids, so they collide with nothing).
#
#   EVOLVE_TEST_POSTGRES_DIR=build/pgtest examples/with_test_postgres.sh COMMAND [ARGS...]
set -eu
server_url=$(cat "${EVOLVE_TEST_POSTGRES_DIR:?set EVOLVE_TEST_POSTGRES_DIR (the evolve_postgres fixture)}/url")
psql=$(command -v psql || true)
if [ -z "$psql" ]; then
  for candidate in /usr/lib/postgresql/*/bin/psql; do
    [ -x "$candidate" ] && psql=$candidate
  done
fi
if [ -z "$psql" ]; then
  POSTGRES_URL=$server_url exec "$@"
fi
db=evolve_example_$$
"$psql" -qX -v ON_ERROR_STOP=1 "$server_url" -c "CREATE DATABASE $db" >/dev/null
trap '"$psql" -qX "$server_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null' EXIT
POSTGRES_URL="${server_url%/*}/$db" "$@"
