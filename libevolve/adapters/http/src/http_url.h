// The base URLs of the services evolve::http talks to, parsed once for
// every client: http://host[:port][/path prefix].
#ifndef EVOLVE_HTTP_SRC_HTTP_URL_H_
#define EVOLVE_HTTP_SRC_HTTP_URL_H_

#include <string>

#include "evolve/status.h"

namespace evolve::http {

struct HttpUrl {
  std::string host;    // an IPv6 address without its brackets
  int port = 80;
  std::string prefix;  // "" or "/path", no trailing '/'
  std::string url;     // normalised: "http://" + authority + prefix
};

// Errors: kInvalidArgument "<what> URL '<url>': <problem>" for another
// scheme (https included: terminate TLS in front), credentials, a query or
// fragment, a missing host, an IPv6 address without brackets, or a port
// outside [1, 65535]. `example_port` appears in the IPv6 hint.
Result<HttpUrl> ParseHttpUrl(const std::string& url, const std::string& what, int example_port);

// Percent-encodes all but RFC 3986's unreserved characters (and '/' when
// `keep_slash`): an id as one path segment or query value, or a key that
// spans several segments.
std::string PercentEncode(const std::string& s, bool keep_slash = false);

}  // namespace evolve::http

#endif  // EVOLVE_HTTP_SRC_HTTP_URL_H_
