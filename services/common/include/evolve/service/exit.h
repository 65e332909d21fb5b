// How the binaries end: their exit codes, and the one line an error prints.
#ifndef EVOLVE_SERVICE_EXIT_H_
#define EVOLVE_SERVICE_EXIT_H_

#include <string>

#include "evolve/status.h"

namespace evolve::service {

// Exit codes: 0 success (a run that ended, promoted or not), 1 an error while
// working (store, engines), 2 bad input (nothing was changed), 130 stopped by
// SIGINT/SIGTERM (the run can be resumed).
enum ExitCode : int { kExitOk = 0, kExitError = 1, kExitUsage = 2, kExitInterrupted = 130 };

// The exit code for `status`: kExitUsage for kInvalidArgument and kNotFound
// (bad input: an unknown symbol, run or file), kExitError otherwise.
int ExitCodeOf(const Status& status);

// Prints "<program>: error: <message>" to stderr and returns
// ExitCodeOf(status).
int FailAs(const char* program, const Status& status);
// FailAs("evolve", status).
int Fail(const Status& status);

// The command as the user typed it (argv[0]), for hints that must work when
// pasted: "build/services/orchestrator/evolve show run_...".
void SetProgramName(const std::string& name);
const std::string& ProgramName();

}  // namespace evolve::service

#endif  // EVOLVE_SERVICE_EXIT_H_
