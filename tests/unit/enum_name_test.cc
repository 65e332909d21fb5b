// EnumName (evolve/enum_name.h) and the library's enum names built on it.
#include "evolve/enum_name.h"

#include <doctest/doctest.h>

#include <string>

#include "evolve/evolution.h"
#include "evolve/log.h"
#include "evolve/status.h"

namespace evolve {
namespace {

enum class Colour { kRed, kGreen, kBlue };
constexpr const char* kColourNames[] = {"red", "green", "blue"};

constexpr const char* ColourName(Colour c) { return EnumName<Colour::kBlue>(c, kColourNames, "none"); }

static_assert(ColourName(Colour::kGreen)[0] == 'g', "usable in constant expressions");

TEST_SUITE("enum_name") {
  TEST_CASE("enum_name: the table entry of each value, the fallback outside the table") {
    CHECK(std::string(ColourName(Colour::kRed)) == "red");
    CHECK(std::string(ColourName(Colour::kGreen)) == "green");
    CHECK(std::string(ColourName(Colour::kBlue)) == "blue");
    CHECK(std::string(ColourName(static_cast<Colour>(3))) == "none");
    CHECK(std::string(ColourName(static_cast<Colour>(-1))) == "none");
  }

  TEST_CASE("enum_name: the library's names") {
    CHECK(std::string(StatusCodeName(StatusCode::kOk)) == "OK");
    CHECK(std::string(StatusCodeName(StatusCode::kFailedPrecondition)) == "FAILED_PRECONDITION");
    CHECK(std::string(StatusCodeName(StatusCode::kDeadlineExceeded)) == "DEADLINE_EXCEEDED");
    CHECK(std::string(StatusCodeName(StatusCode::kInternal)) == "INTERNAL");
    CHECK(std::string(StatusCodeName(static_cast<StatusCode>(99))) == "UNKNOWN");

    CHECK(std::string(LogLevelName(LogLevel::kDebug)) == "DEBUG");
    CHECK(std::string(LogLevelName(LogLevel::kWarning)) == "WARNING");
    CHECK(std::string(LogLevelName(LogLevel::kError)) == "ERROR");
    CHECK(std::string(LogLevelName(static_cast<LogLevel>(7))) == "INFO");

    CHECK(std::string(StepOutcomeName(StepOutcome::kProgressed)) == "progressed");
    CHECK(std::string(StepOutcomeName(StepOutcome::kWaiting)) == "waiting");
    CHECK(std::string(StepOutcomeName(StepOutcome::kFinished)) == "finished");
    CHECK(std::string(StepOutcomeName(StepOutcome::kHalted)) == "halted");
    CHECK(std::string(StepOutcomeName(static_cast<StepOutcome>(4))) == "unknown");
  }
}

}  // namespace
}  // namespace evolve
