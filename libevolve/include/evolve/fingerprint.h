// Model fingerprints: SHA-256 over a canonical JSON of everything that changes
// the trained model, so that a pruned feature set that leads back to a known
// configuration reuses its model instead of training again.
//
// Canonical form (version kFingerprintVersion): an object with keys sorted:
//   v, symbol (upper case), algorithm (canonical name, see CanonicalAlgorithm),
//   target_col, target_transform (lower case), timeframe, features (sorted,
//   unique), hyperparameters and data_options (CanonicalJsonObject: keys
//   sorted, nulls dropped, numbers to 10 significant digits, so 1, 1.0 and
//   1.00000000001 agree), reference_symbols (upper case, unique, IN ORDER:
//   the first reference is the market of the regime labels), split (the
//   DataSplit as a canonical object: holdout_fraction, holdout_start,
//   selection_fraction) and data_digest (the digest of the bars, as given).
// Version 2 added split and data_digest and keeps the reference order;
// version 1 sorted the references and knew neither, so a model was reused
// after its bars grew. parent_model_id is not part of it. Changing any rule bumps the version, so
// old and new fingerprints never collide.
//
// Thread-safety: pure functions.
#ifndef EVOLVE_FINGERPRINT_H_
#define EVOLVE_FINGERPRINT_H_

#include <memory>
#include <string>
#include <string_view>

#include "evolve/status.h"
#include "evolve/types.h"

namespace evolve {

inline constexpr int kFingerprintVersion = 2;

// The canonical JSON text that is hashed.
// Errors: kInvalidArgument when hyperparameters or data_options are not JSON
// objects.
Result<std::string> CanonicalModelJson(const ModelSpec& spec);

// Lower-case hex SHA-256 of CanonicalModelJson(spec) (64 characters).
Result<std::string> Fingerprint(const ModelSpec& spec);

// Lower-case hex SHA-256 of `data` (OpenSSL EVP).
std::string Sha256Hex(std::string_view data);

// Sha256Hex of bytes given in pieces (their concatenation), without
// concatenating them: for digests of gigabytes. Not copyable.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;

  void Update(std::string_view bytes);
  // The digest of everything given; the stream is spent.
  std::string HexDigest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The canonical name of an algorithm: the training service's names
// ("random_forest_regressor", "elasticnet_regression", "linear_regression",
// ...) for them and for the seed's aliases ("RandomForest", "ElasticNet",
// "LinearRegression", ...); any other name lower-cased as is.
std::string CanonicalAlgorithm(const std::string& name);

}  // namespace evolve

#endif  // EVOLVE_FINGERPRINT_H_
