// The value rules of the config types (evolve/validation.h): the problems of a
// struct built in code as FieldErrors, one per bad field, and as a Status.
#include "evolve/validation.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "evolve/json.h"
#include "evolve/selection_stats.h"  // kCscvBlocks
#include "evolve/status.h"
#include "evolve/testing/samples.h"
#include "evolve/types.h"

namespace evolve {
namespace {

// The defaults with a symbol: the smallest valid config.
EvolutionConfig ValidConfig() {
  EvolutionConfig c;
  c.symbol = "AAPL";
  return c;
}

// Three bad fields, one of them in the nested pruning config.
EvolutionConfig ThreeBadFields() {
  EvolutionConfig c = ValidConfig();
  c.symbol.clear();
  c.fee_bps = -1;
  c.pruning.fraction = 2;
  return c;
}

const std::vector<FieldError> kThreeBadFieldsErrors = {
    {"symbol", "must not be empty"},
    {"fee_bps", "must be >= 0 and < 1000"},
    {"pruning.fraction", "must be > 0 and < 1"},
};

TEST_SUITE("validation") {
  TEST_CASE("validation: a config with three bad fields has three FieldErrors naming each field") {
    CHECK(EvolutionConfigErrors(ValidConfig()).empty());
    CHECK(EvolutionConfigErrors(ThreeBadFields()) == kThreeBadFieldsErrors);
  }

  TEST_CASE("validation: ValidateEvolutionConfig is the same list as a Status") {
    CHECK(ValidateEvolutionConfig(ValidConfig()).ok());

    std::vector<FieldError> errors = {{"earlier", "kept"}};
    const Status status = ValidateEvolutionConfig(ThreeBadFields(), &errors);
    CHECK(status.code() == StatusCode::kInvalidArgument);
    CHECK(status.message() ==
          "symbol: must not be empty; fee_bps: must be >= 0 and < 1000; "
          "pruning.fraction: must be > 0 and < 1");
    REQUIRE(errors.size() == 4);
    CHECK(errors[0] == FieldError{"earlier", "kept"});  // appended to, not replaced
    CHECK(std::vector<FieldError>(errors.begin() + 1, errors.end()) == kThreeBadFieldsErrors);
  }

  TEST_CASE("validation: FieldErrorsToStatus") {
    CHECK(FieldErrorsToStatus({}).ok());
    const Status one = FieldErrorsToStatus({{"thresholds[1]", "must be >= 0"}});
    CHECK(one.code() == StatusCode::kInvalidArgument);
    CHECK(one.message() == "thresholds[1]: must be >= 0");
    // A problem with the whole document has no field: its message alone.
    CHECK(FieldErrorsToStatus({{"", "malformed JSON"}, {"a", "b"}}).message() == "malformed JSON; a: b");
  }

  TEST_CASE("validation: the JSON reader reports what the rules report") {
    std::vector<FieldError> errors;
    CHECK_FALSE(EvolutionConfigFromJson(ToJson(ThreeBadFields()), &errors).ok());
    // The reader checks the nested pruning config as it reads it, first.
    const std::vector<FieldError> expected = {kThreeBadFieldsErrors[2], kThreeBadFieldsErrors[0],
                                              kThreeBadFieldsErrors[1]};
    CHECK(errors == expected);
  }

  TEST_CASE("validation: each rule, on a struct built in code") {
    const EvolutionConfig c = ValidConfig();

    auto errors_of = [](const EvolutionConfig& config) {
      std::vector<FieldError> errors;
      Status status = ValidateEvolutionConfig(config, &errors);
      CHECK(status.code() == StatusCode::kInvalidArgument);
      return errors;
    };
    EvolutionConfig bad = c;
    bad.sqn_min = 6;
    CHECK(errors_of(bad) == std::vector<FieldError>{{"sqn_min", "must be <= sqn_max (6 > 5)"}});
    CHECK(ValidateEvolutionConfig(bad).message() == "sqn_min: must be <= sqn_max (6 > 5)");

    bad = c;
    bad.symbol.clear();
    CHECK(errors_of(bad) == std::vector<FieldError>{{"symbol", "must not be empty"}});

    bad = c;
    bad.thresholds = {0.1, std::nan("")};
    CHECK(errors_of(bad) == std::vector<FieldError>{{"thresholds[1]", "must be a finite number"}});

    bad = c;
    bad.sqn_max = std::numeric_limits<double>::infinity();
    CHECK(errors_of(bad) == std::vector<FieldError>{{"sqn_max", "must be a finite number"}});

    bad = c;
    bad.regime_configs = {RegimeFilter{"", {1}}};
    CHECK(errors_of(bad) ==
          std::vector<FieldError>{{"regime_configs[0]", "allowed values without a regime column"}});

    bad = c;
    bad.data_options = "[]";
    bad.hyperparameters = "not json";
    bad.pruning.strategy = "magic";
    bad.max_generations = 0;
    bad.split.holdout_start = "2025-13-01";
    bad.dsr_min = 1.5;
    CHECK(errors_of(bad) ==
          std::vector<FieldError>{
              {"max_generations", "must be between 1 and 1000"},
              {"data_options", "must be a JSON object"},
              {"hyperparameters", "must be a JSON object"},
              {"holdout_start", "must be a date YYYY-MM-DD (or empty: holdout_fraction decides)"},
              {"dsr_min", "must be >= 0 and <= 1"},
              {"pruning.strategy", "must be one of non_positive, keep_top_fraction, threshold"},
          });

    // Empty seed_features in a struct means "every feature": valid.
    bad = c;
    bad.seed_features.clear();
    CHECK(ValidateEvolutionConfig(bad).ok());
  }

  TEST_CASE("validation: a worker's simulation result, each metric within its definition") {
    const SimulationResult good = testing::SampleResult(2.0);
    CHECK(SimulationResultErrors(good).empty());
    CHECK(SimulationResultErrors(SimulationResult{}).empty());  // no trades at all is a result

    // The worker results the hardening probe stored (issue 18), and more:
    // each refused, naming its field.
    SimulationResult bad = good;
    bad.trade_count = -5;
    bad.win_rate = 7.0;
    bad.profit_factor = -3.0;
    bad.start_date = std::string(1 << 20, '9');
    bad.exposure = 1.5;
    bad.max_drawdown_pct = 140.0;
    bad.total_return_pct = -250.0;
    bad.span = "everything";
    bad.sharpe = std::numeric_limits<double>::quiet_NaN();
    CHECK(SimulationResultErrors(bad) ==
          std::vector<FieldError>{
              {"profit_factor", "must be >= 0"},
              {"trade_count", "must be >= 0"},
              {"win_rate", "must be >= 0 and <= 1"},
              {"total_return_pct", "must be >= -100"},
              {"max_drawdown_pct", "must be >= 0 and <= 100"},
              {"sharpe", "must be a finite number"},
              {"exposure", "must be >= 0 and <= 1"},
              {"start_date", "must be a date YYYY-MM-DD (or empty)"},
              {"span", "must be one of research, holdout, all"},
          });

    bad = good;
    bad.trade_blocks.assign(2, ReturnSums{300, 0.1, 0.01, 0.0, 0.001});
    CHECK(SimulationResultErrors(bad) ==
          std::vector<FieldError>{{"trade_blocks", "hold 600 trades, more than trade_count (400)"}});
    bad.trade_blocks = {ReturnSums{-1, 0.0, -0.5, 0.0, 0.0}};
    CHECK(SimulationResultErrors(bad) ==
          std::vector<FieldError>{{"trade_blocks[0].n", "must be between 0 and 400"},
                                  {"trade_blocks[0].sum2", "must be >= 0"}});
    bad.trade_blocks.assign(kCscvBlocks + 1, ReturnSums{});
    CHECK(SimulationResultErrors(bad) ==
          std::vector<FieldError>{{"trade_blocks", "at most 16 blocks (got 17)"}});
  }
}

}  // namespace
}  // namespace evolve
