// Canonical JSON (evolve/canonical_json.h): one text per meaning, so that
// fingerprints and stored configs compare by bytes.
#include "canonical_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "json_document.h"

namespace evolve {
namespace internal {
namespace {

using rapidjson::SizeType;
using rapidjson::Value;

constexpr int kMaxCanonicalDepth = 64;  // AppendCanonical recurses

// 1, 1.0 and 1.00000000001 must agree: integral doubles are written as
// integers, others with 10 significant digits, and a value that those digits
// make integral is written as an integer too. to_chars/from_chars, not
// printf, so that the process locale cannot change a fingerprint.
void AppendCanonicalDouble(double d, std::string* out) {
  constexpr double kExactIntegers = 9007199254740992.0;  // 2^53
  constexpr double kInt64Limit = 9.2e18;
  if (std::trunc(d) == d && std::fabs(d) < kExactIntegers) {
    *out += std::to_string(static_cast<int64_t>(d));  // also turns -0 into 0
    return;
  }
  char buf[64];
  char* end = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::general, 10).ptr;
  double rounded = d;
  std::from_chars(buf, end, rounded);
  if (std::trunc(rounded) == rounded && std::fabs(rounded) < kInt64Limit) {
    *out += std::to_string(static_cast<int64_t>(rounded));
  } else {
    out->append(buf, end);  // e.g. "0.1", "1.234567891e-07", "1e+20"
  }
}

bool AppendCanonicalAt(const Value& v, std::string* out, std::string* error, int depth) {
  if (depth > kMaxCanonicalDepth) {
    *error = "nested deeper than " + std::to_string(kMaxCanonicalDepth) + " levels";
    return false;
  }
  switch (v.GetType()) {
    case rapidjson::kNullType:
      *out += "null";  // only reached inside arrays: null members are dropped
      return true;
    case rapidjson::kFalseType:
      *out += "false";
      return true;
    case rapidjson::kTrueType:
      *out += "true";
      return true;
    case rapidjson::kStringType:
      *out += JsonQuote(std::string_view(v.GetString(), v.GetStringLength()));
      return true;
    case rapidjson::kNumberType:
      // Integer literals are exact as they are; only doubles need rounding.
      if (v.IsInt64()) {
        *out += std::to_string(v.GetInt64());
      } else if (v.IsUint64()) {
        *out += std::to_string(v.GetUint64());
      } else if (std::isfinite(v.GetDouble())) {
        AppendCanonicalDouble(v.GetDouble(), out);
      } else {
        *error = "numbers must be finite";
        return false;
      }
      return true;
    case rapidjson::kArrayType: {
      *out += '[';
      for (SizeType i = 0; i < v.Size(); ++i) {
        if (i > 0) *out += ',';
        if (!AppendCanonicalAt(v[i], out, error, depth + 1)) return false;
      }
      *out += ']';
      return true;
    }
    case rapidjson::kObjectType: {
      std::vector<std::pair<std::string_view, const Value*>> members;
      for (const auto& m : v.GetObject()) {
        if (m.value.IsNull()) continue;
        members.emplace_back(std::string_view(m.name.GetString(), m.name.GetStringLength()),
                             &m.value);
      }
      // Byte order: string_view compares as unsigned char, like memcmp.
      std::sort(members.begin(), members.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      *out += '{';
      for (size_t i = 0; i < members.size(); ++i) {
        if (i > 0 && members[i].first == members[i - 1].first) {
          *error = "duplicate key " + JsonQuote(members[i].first);
          return false;
        }
        if (i > 0) *out += ',';
        *out += JsonQuote(members[i].first);
        *out += ':';
        if (!AppendCanonicalAt(*members[i].second, out, error, depth + 1)) return false;
      }
      *out += '}';
      return true;
    }
  }
  return false;
}

}  // namespace

bool AppendCanonical(const Value& v, std::string* out, std::string* error) {
  return AppendCanonicalAt(v, out, error, 0);
}

}  // namespace internal

Result<std::string> CanonicalJsonObject(std::string_view json) {
  rapidjson::Document doc;
  if (auto problem = internal::ParseDocument(json, &doc)) return FieldErrorsToStatus({*problem});
  if (!doc.IsObject()) return InvalidArgumentError("expected a JSON object");
  std::string text;
  std::string error;
  if (!internal::AppendCanonical(doc, &text, &error)) return InvalidArgumentError(error);
  return text;
}

std::string JsonQuote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += ch;
    }
  }
  out += '"';
  return out;
}

}  // namespace evolve
