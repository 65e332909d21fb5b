// Migrations of a PostgreSQL store: the numbering check and Migrate.
#include "postgres_schema.h"

#include <string>
#include <vector>

#include "evolve/postgres/postgres_store.h"
#include "postgres_migrations.h"

namespace evolve::postgres {

int LatestSchemaVersion() { return Migrations().empty() ? 0 : Migrations().back().version; }

Status CheckMigrationNumbers() {
  int expected = 0;
  for (const Migration& migration : Migrations()) {
    if (migration.version == ++expected) continue;
    return InternalError(std::string("sql/postgres: migration ") + migration.name + " should be number " +
                         std::to_string(expected) + ": versions must run 1, 2, ... without gaps");
  }
  return Status::Ok();
}

Status Migrate(ConnectionPool& pool, bool migrate) {
  const std::string& url = pool.endpoint().url;
  return pool.Transact([&](pqxx::work& tx) -> Status {
    tx.exec_params("SELECT pg_advisory_xact_lock($1, $2)", kLockSpace, kMigrationLock);
    tx.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
        "applied_at timestamptz NOT NULL)");
    const int current = tx.exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0][0].as<int>();
    const int latest = LatestSchemaVersion();
    const bool newer = current > latest;
    if (newer || (current < latest && !migrate)) {
      return FailedPreconditionError(
          "postgres " + url + ": schema version " + std::to_string(current) +
          (newer ? " is newer than" : " is behind") + " this build's " + std::to_string(latest) +
          (newer ? "; use a newer libevolve" : "; run `evolve migrate` to upgrade it"));
    }
    for (const Migration& migration : Migrations()) {
      if (migration.version <= current) continue;
      tx.exec(migration.sql);
      tx.exec_params("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())",
                     migration.version, std::string(migration.name));
    }
    return Status::Ok();
  });
}

}  // namespace evolve::postgres
