#include "evolve/service/exit.h"

#include <cstdio>

namespace evolve::service {
namespace {

std::string& ProgramNameStorage() {
  static std::string name = "evolve";
  return name;
}

}  // namespace

int ExitCodeOf(const Status& status) {
  const StatusCode code = status.code();
  return code == StatusCode::kInvalidArgument || code == StatusCode::kNotFound ? kExitUsage : kExitError;
}

int FailAs(const char* program, const Status& status) {
  std::fprintf(stderr, "%s: error: %s\n", program, status.message().c_str());
  return ExitCodeOf(status);
}

int Fail(const Status& status) { return FailAs("evolve", status); }

void SetProgramName(const std::string& name) { ProgramNameStorage() = name; }
const std::string& ProgramName() { return ProgramNameStorage(); }

}  // namespace evolve::service
