// The seed README's examples, verbatim, for every test that replays them.
#ifndef EVOLVE_TESTS_SEED_EXAMPLES_H_
#define EVOLVE_TESTS_SEED_EXAMPLES_H_

namespace evolve::testing {

// The POST /evolve request body of ../shared/seed/orchestrator-service-README.md.
inline constexpr char kSeedEvolveBody[] = R"({
  "symbol": "AAPL",
  "algorithm": "RandomForest",
  "target_col": "close",
  "target_transform": "log_return",
  "max_generations": 4,
  "timeframe": "1m",
  "data_options": "{\"train_window\": 30, \"test_window\": 5}",
  "seed_features": ["sma_20", "rsi_14", "macd_line"],
  "reference_symbols": ["SPY", "QQQ"],
  "thresholds": [0.0001, 0.0003, 0.0005],
  "regime_configs": [
    {"regime_gmm": [1]},
    {"regime_vix": [2, 3]}
  ],
  "sqn_min": 3.0,
  "sqn_max": 5.0,
  "profit_factor_min": 2.0,
  "profit_factor_max": 4.0,
  "trade_count_min": 200,
  "trade_count_max": 10000
})";

}  // namespace evolve::testing

#endif  // EVOLVE_TESTS_SEED_EXAMPLES_H_
