// evolve: the libevolve command line. `evolve serve` is the orchestrator
// service; `evolve run` runs an evolution to its end on the embedded
// defaults (SQLite file, built-in engines, bundled data); the other
// sub-commands read the results back.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "commands.h"
#include "evolve/log.h"
#include "evolve/service/exit.h"
#include "evolve/service/settings.h"

namespace {

struct Command {
  const char* name;
  int (*fn)(const evolve::cli::Argv&);
  const char* summary;
};

const Command kCommands[] = {
    {"serve", evolve::cli::ServeCommand, "the orchestrator service: REST API on 127.0.0.1:8400"},
    {"run", evolve::cli::RunCommand, "run one evolution to its end (or --resume one)"},
    {"runs", evolve::cli::RunsCommand, "list runs, newest first"},
    {"show", evolve::cli::ShowCommand, "one run: its generations and outcome"},
    {"promoted", evolve::cli::PromotedCommand, "promoted models, best SQN first"},
    {"lineage", evolve::cli::LineageCommand, "a model's ancestry back to its seed"},
    {"migrate", evolve::cli::MigrateCommand, "create or upgrade the database schema"},
    {"symbols", evolve::cli::SymbolsCommand, "symbols of the bars (--bars or --data-dir)"},
    {"validate", evolve::cli::ValidateCommand, "every problem of bar files, directories or tables"},
    {"features", evolve::cli::FeaturesCommand, "a symbol's feature table as CSV"},
};

void PrintUsage(std::FILE* out) {
  std::fprintf(out, "usage: evolve COMMAND [options]   (evolve COMMAND --help for its options)\n\ncommands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out,
               "\nenvironment: EVOLVE_DB (default ./evolve.db), EVOLVE_BARS, EVOLVE_DATA_DIR, DEFAULT_MAX_GENERATIONS,\n"
               "LOG_LEVEL (default WARNING); options override them.\n");
}

}  // namespace

int main(int argc, char** argv) {
  using evolve::service::kExitOk;
  using evolve::service::kExitUsage;
  if (evolve::Status s = evolve::service::SetLogLevelFromEnvironment(evolve::LogLevel::kWarning); !s.ok()) {
    return evolve::service::Fail(s);
  }
  evolve::service::SetProgramName(argv[0]);
  if (argc < 2) {
    PrintUsage(stderr);
    return kExitUsage;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    PrintUsage(stdout);
    return kExitOk;
  }
  const std::vector<std::string> rest(argv + 2, argv + argc);
  for (const Command& c : kCommands) {
    if (name == c.name) return c.fn(rest);
  }
  std::fprintf(stderr, "evolve: error: unknown command '%s' (evolve --help lists them)\n", name.c_str());
  return kExitUsage;
}
