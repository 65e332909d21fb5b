// The sub-commands of the `evolve` binary. Each takes the words after its
// name and returns the process exit code (output.h).
#ifndef EVOLVE_SERVICES_ORCHESTRATOR_COMMANDS_H_
#define EVOLVE_SERVICES_ORCHESTRATOR_COMMANDS_H_

#include <string>
#include <vector>

namespace evolve::cli {

using Argv = std::vector<std::string>;

int RunCommand(const Argv& argv);       // evolve run
int RunsCommand(const Argv& argv);      // evolve runs
int ShowCommand(const Argv& argv);      // evolve show RUN_ID
int PromotedCommand(const Argv& argv);  // evolve promoted
int LineageCommand(const Argv& argv);   // evolve lineage MODEL_ID
int MigrateCommand(const Argv& argv);   // evolve migrate
int SymbolsCommand(const Argv& argv);   // evolve symbols
int FeaturesCommand(const Argv& argv);  // evolve features SYMBOL
int ValidateCommand(const Argv& argv);  // evolve validate PATH...
int ServeCommand(const Argv& argv);     // evolve serve

}  // namespace evolve::cli

#endif  // EVOLVE_SERVICES_ORCHESTRATOR_COMMANDS_H_
