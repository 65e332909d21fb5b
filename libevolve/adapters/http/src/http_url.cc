#include "http_url.h"

#include <algorithm>

namespace evolve::http {

Result<HttpUrl> ParseHttpUrl(const std::string& url, const std::string& what, int example_port) {
  const std::string bad = what + " URL '" + url + "': ";
  static const std::string kScheme = "http://";
  if (url.empty()) return InvalidArgumentError(what + ": no URL given");
  if (url.compare(0, kScheme.size(), kScheme) != 0) {
    if (url.compare(0, 8, "https://") == 0) {
      return InvalidArgumentError(bad +
                                  "https is not supported; use http:// (behind a TLS-terminating proxy "
                                  "or on a private network)");
    }
    return InvalidArgumentError(bad + "must be http://host[:port][/path]");
  }
  const std::string rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  HttpUrl out;
  out.prefix = slash == std::string::npos ? "" : rest.substr(slash);
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  if (out.prefix.find_first_of("?#") != std::string::npos) {
    return InvalidArgumentError(bad + "must not have a query or fragment");
  }
  if (authority.find('@') != std::string::npos) {
    return InvalidArgumentError(bad + "must not hold credentials (the API token is given apart)");
  }
  std::string port_text;
  bool has_port = false;
  if (!authority.empty() && authority[0] == '[') {  // [v6 address]:port
    const size_t close = authority.find(']');
    if (close == std::string::npos) return InvalidArgumentError(bad + "unterminated '[' in the host");
    out.host = authority.substr(1, close - 1);
    const std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return InvalidArgumentError(bad + "expected ':port' after the host");
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.find(':');
    if (colon != std::string::npos && authority.find(':', colon + 1) != std::string::npos) {
      return InvalidArgumentError(
          bad + "an IPv6 address must be in brackets: http://[::1]:" + std::to_string(example_port));
    }
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
  }
  if (out.host.empty()) return InvalidArgumentError(bad + "has no host");
  if (has_port) {
    const bool digits =
        !port_text.empty() && port_text.size() <= 5 &&
        std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || std::stoi(port_text) < 1 || std::stoi(port_text) > 65535) {
      return InvalidArgumentError(bad + "the port must be a number in [1, 65535]");
    }
    out.port = std::stoi(port_text);
  }
  out.url = kScheme + authority + out.prefix;
  return out;
}

std::string PercentEncode(const std::string& s, bool keep_slash) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/');
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace evolve::http
