// The database side of a PostgreSQL store: the numbered migrations of
// sql/postgres/ (compiled in) and how they are applied, and the advisory
// lock keys libevolve takes in the database. Private to evolve::postgres.
#ifndef EVOLVE_POSTGRES_POSTGRES_SCHEMA_H_
#define EVOLVE_POSTGRES_POSTGRES_SCHEMA_H_

#include "evolve/status.h"
#include "postgres_connection.h"

namespace evolve::postgres {

// The advisory locks of libevolve. Transaction locks take two int keys: the
// class key kLockSpace ("evol"), so that other applications' locks on the
// same server keep apart, and a second key naming what is locked:
// kMigrationLock while migrating, hashtext(batch_id) while enqueueing a
// batch. The run locks (postgres_run_locks.h) are session locks on one
// bigint key, a key space of its own.
inline constexpr int kLockSpace = 0x65766f6c;  // "evol"
inline constexpr int kMigrationLock = 1;

// kInternal unless the compiled-in migrations run 1, 2, ... without gaps.
Status CheckMigrationNumbers();

// Brings the schema of the database up to date in one transaction, under
// the migration lock, so processes opening one database together take
// turns and the second finds nothing to do. Errors: kFailedPrecondition for
// a schema newer than this build, or behind it with `migrate` false.
Status Migrate(ConnectionPool& pool, bool migrate);

}  // namespace evolve::postgres

#endif  // EVOLVE_POSTGRES_POSTGRES_SCHEMA_H_
