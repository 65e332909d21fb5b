// The run locks of a SQLite store (RunLocks): an open-file-description
// lock on one byte of "<database>-runs.lock" per run. Such locks exclude
// every other holder on the host, another thread of this process included
// (each lock is its own open file description), and the kernel drops them
// when the holder's process dies, even by kill -9. (A child forked without
// exec shares the description, so it holds the lock until it exits too;
// exec closes it.)
#ifndef EVOLVE_SQLITE_SQLITE_RUN_LOCKS_H_
#define EVOLVE_SQLITE_SQLITE_RUN_LOCKS_H_

#include <memory>
#include <string>

#include "evolve/status.h"
#include "evolve/store.h"

namespace evolve::sqlite {

// The lock file beside the database at `database_path`.
std::string RunLockFilePath(const std::string& database_path);

// Takes the lock of `run_id` in the lock file at `lock_path` without
// waiting. Errors: kFailedPrecondition when another holder has it;
// kUnavailable when the lock file cannot be opened or locked (naming it).
Result<std::unique_ptr<RunLock>> TryLockRunInFile(const std::string& lock_path, const std::string& run_id);

}  // namespace evolve::sqlite

#endif  // EVOLVE_SQLITE_SQLITE_RUN_LOCKS_H_
