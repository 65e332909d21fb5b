// doctest-dev ships no main; this is ours. LOG_LEVEL (default WARNING) keeps
// test output to what matters.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>

#include "evolve/log.h"

int main(int argc, char** argv) {
  evolve::LogLevel level = evolve::LogLevel::kWarning;
  if (const char* env = std::getenv("LOG_LEVEL")) evolve::ParseLogLevel(env, &level);
  evolve::SetLogLevel(level);
  doctest::Context context(argc, argv);
  return context.run();
}
