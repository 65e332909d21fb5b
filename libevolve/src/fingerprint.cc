#include "evolve/fingerprint.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>

#include "evolve/json.h"

namespace evolve {
namespace {

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Sorted, unique.
std::vector<std::string> SortedUnique(const std::vector<std::string>& in) {
  std::set<std::string> set(in.begin(), in.end());
  return {set.begin(), set.end()};
}

// Every digit of a double; CanonicalJsonObject then rounds it as it rounds
// any number. NaN and Infinity come out as text JSON refuses.
std::string JsonNumber(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

// Upper-cased, first occurrences in their order.
std::vector<std::string> OrderedUnique(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& s : in) {
    if (seen.insert(Upper(s)).second) out.push_back(Upper(s));
  }
  return out;
}

std::string JsonStringArray(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += JsonQuote(values[i]);
  }
  return out + "]";
}

}  // namespace

std::string CanonicalAlgorithm(const std::string& name) {
  // The seed's names (and common spellings) -> the training service's names.
  static const std::map<std::string, std::string> kAliases = {
      {"randomforest", "random_forest_regressor"},
      {"random_forest", "random_forest_regressor"},
      {"randomforestregressor", "random_forest_regressor"},
      {"elasticnet", "elasticnet_regression"},
      {"elastic_net", "elasticnet_regression"},
      {"linearregression", "linear_regression"},
      {"linear", "linear_regression"},
  };
  std::string lower = Lower(name);
  auto it = kAliases.find(lower);
  return it == kAliases.end() ? lower : it->second;
}

Result<std::string> CanonicalModelJson(const ModelSpec& spec) {
  auto hyper = CanonicalJsonObject(spec.hyperparameters.empty() ? "{}" : spec.hyperparameters);
  if (!hyper.ok()) return hyper.status().WithContext("hyperparameters");
  auto options = CanonicalJsonObject(spec.data_options.empty() ? "{}" : spec.data_options);
  if (!options.ok()) return options.status().WithContext("data_options");
  // Written by hand, then canonicalised, so numbers follow the same rule as
  // in data_options (10 significant digits).
  auto split =
      CanonicalJsonObject("{\"holdout_fraction\":" + JsonNumber(spec.split.holdout_fraction) +
                          ",\"holdout_start\":" + JsonQuote(spec.split.holdout_start) +
                          ",\"selection_fraction\":" + JsonNumber(spec.split.selection_fraction) + "}");
  if (!split.ok()) return split.status().WithContext("split");
  // Keys in byte order, as CanonicalJsonObject orders nested objects.
  std::string out = "{";
  out += "\"algorithm\":" + JsonQuote(CanonicalAlgorithm(spec.algorithm));
  out += ",\"data_digest\":" + JsonQuote(spec.data_digest);
  out += ",\"data_options\":" + *options;
  out += ",\"features\":" + JsonStringArray(SortedUnique(spec.features));
  out += ",\"hyperparameters\":" + *hyper;
  out += ",\"reference_symbols\":" + JsonStringArray(OrderedUnique(spec.reference_symbols));
  out += ",\"split\":" + *split;
  out += ",\"symbol\":" + JsonQuote(Upper(spec.symbol));
  out += ",\"target_col\":" + JsonQuote(spec.target_col);
  out += ",\"target_transform\":" + JsonQuote(Lower(spec.target_transform));
  out += ",\"timeframe\":" + JsonQuote(spec.timeframe);
  out += ",\"v\":" + std::to_string(kFingerprintVersion);
  out += "}";
  return out;
}

Result<std::string> Fingerprint(const ModelSpec& spec) {
  EVOLVE_ASSIGN_OR_RETURN(std::string canonical, CanonicalModelJson(spec));
  return Sha256Hex(canonical);
}

namespace {

std::string Hex(const unsigned char* digest, unsigned int length) {
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xf];
  }
  return hex;
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // EVP_Digest is the one-shot form of the EVP API; it cannot fail for
  // SHA-256 with valid arguments short of allocation failure.
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    return std::string();
  }
  return Hex(digest, length);
}

// The EVP streaming API: EVP_DigestInit_ex / Update / Final_ex. As with
// EVP_Digest, only an allocation failure makes them fail; the digest is
// then empty.
struct Sha256Stream::State {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1;
  ~State() { EVP_MD_CTX_free(ctx); }
};

Sha256Stream::Sha256Stream() : state_(std::make_unique<State>()) {}
Sha256Stream::~Sha256Stream() = default;

void Sha256Stream::Update(std::string_view bytes) {
  if (state_->ok) state_->ok = EVP_DigestUpdate(state_->ctx, bytes.data(), bytes.size()) == 1;
}

std::string Sha256Stream::HexDigest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!state_->ok || EVP_DigestFinal_ex(state_->ctx, digest, &length) != 1) return std::string();
  state_->ok = false;
  return Hex(digest, length);
}

}  // namespace evolve
