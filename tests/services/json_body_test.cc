// evolve::http::JsonBody, the strict reader of every service's request
// bodies: each problem named by its field, all of them in one 400; and the
// same reader behind a route, over real HTTP (bad JSON, any Content-Type,
// a body too large).
#include <doctest/doctest.h>
#include <httplib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "evolve/http/http_server.h"
#include "evolve/http/json_body.h"
#include "service_test_support.h"

namespace evolve::testing::services {
namespace {

using http::JsonBody;

std::vector<std::string> Fields(const JsonBody& body) {
  std::vector<std::string> out;
  for (const FieldError& e : body.errors()) out.push_back(e.field);
  return out;
}

TEST_CASE("json body: typed fields, defaults, and every problem named by its field") {
  JsonBody body(
      R"({"name": "w1", "count": 3, "ratio": 0.5, "on": true, "raw": {"a": [1, 2]}, "list": [1, "x"],
                    "null": null})",
      {"name", "count", "ratio", "on", "raw", "list", "null", "absent"});
  CHECK(body.String("name") == "w1");
  CHECK(body.Int("count", 1, 10) == 3);
  CHECK(body.Number("ratio", 0, 1) == 0.5);
  CHECK(body.Bool("on") == true);
  CHECK(body.Raw("raw") == R"({"a":[1,2]})");
  CHECK(body.Array("list") == std::vector<std::string>{"1", "\"x\""});
  CHECK_FALSE(body.String("null").has_value());  // null is absent
  CHECK_FALSE(body.Int("absent", 0, 1).has_value());
  CHECK(body.ok());
  CHECK(body.status().ok());

  JsonBody bad(R"({"name": 5, "count": 11, "frac": 1.5, "ratio": "x", "on": 1, "list": {}, "extra": 0})",
               {"name", "count", "frac", "ratio", "on", "list", "needed"});
  CHECK_FALSE(bad.String("name").has_value());
  CHECK_FALSE(bad.Int("count", 1, 10).has_value());
  CHECK_FALSE(bad.Int("frac", 0, 10).has_value());
  CHECK_FALSE(bad.Number("ratio", 0, 1).has_value());
  CHECK_FALSE(bad.Bool("on").has_value());
  CHECK_FALSE(bad.Array("list").has_value());
  CHECK_FALSE(bad.String("needed", /*required=*/true).has_value());
  CHECK(Fields(bad) ==
        std::vector<std::string>{"extra", "name", "count", "frac", "ratio", "on", "list", "needed"});
  const Status s = bad.status();
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(Contains(s.message(), "extra: unknown field"));
  CHECK(Contains(s.message(), "name: must be a string, not a number"));
  CHECK(Contains(s.message(), "count: must be in [1, 10], got 11"));
  CHECK(Contains(s.message(), "frac: must be an integer, not 1.5"));
  CHECK(Contains(s.message(), "ratio: must be a number, not a string"));
  CHECK(Contains(s.message(), "on: must be true or false, not a number"));
  CHECK(Contains(s.message(), "list: must be an array, not an object"));
  CHECK(Contains(s.message(), "needed: is required"));

  // Nested problems under their parent's name.
  JsonBody outer("{}", {});
  outer.AddNested("result", {{"sqn", "must be a number"}, {"", "bad"}});
  outer.AddNested("current_jobs", {{"[1]", "must be a string"}});
  CHECK(Fields(outer) == std::vector<std::string>{"result.sqn", "result", "current_jobs[1]"});
}

TEST_CASE("json body: what is not one JSON object is one problem, and a 400 lists them all") {
  JsonBody empty("", {"a"});
  CHECK(Contains(empty.status().message(), "must be a JSON object (it is empty)"));
  JsonBody malformed(R"({"a": )", {"a"});
  CHECK(Contains(malformed.status().message(), "malformed JSON at offset 6"));
  CHECK_FALSE(malformed.String("a", /*required=*/true).has_value());  // no second problem for the field
  CHECK(malformed.errors().size() == 1);
  JsonBody array("[1, 2]", {"a"});
  CHECK(Contains(array.status().message(), "must be a JSON object, not an array"));

  http::Response res;
  JsonBody two(R"({"x": 1, "y": 2})", {});
  CHECK(two.SendErrors(res));
  CHECK(res.status == 400);
  CHECK(res.content_type == "application/json");
  CHECK(res.body ==
        R"({"error":{"code":"invalid_argument","message":"x: unknown field; y: unknown field",)"
        R"("details":[{"field":"x","message":"unknown field"},{"field":"y","message":"unknown field"}]}})");
  http::Response untouched;
  CHECK_FALSE(JsonBody(R"({"x": 1})", {"x"}).SendErrors(untouched));
  CHECK(untouched.body.empty());

  // A body that may be empty or {} and nothing else.
  http::Response r1, r2, r3;
  CHECK(JsonBody::EmptyOrObject("", r1));
  CHECK(JsonBody::EmptyOrObject("{}", r2));
  CHECK_FALSE(JsonBody::EmptyOrObject(R"({"now": true})", r3));
  CHECK(r3.status == 400);
  CHECK(Contains(r3.body, R"("field":"now")"));
}

struct Greeting {
  std::string last;
};

void PostGreet(Greeting& g, const http::Request& req, http::Response& res) {
  JsonBody body(req.body, {"name", "times"});
  std::optional<std::string> name = body.String("name", /*required=*/true);
  body.Int("times", 1, 3);
  if (body.SendErrors(res)) return;
  g.last = *name;
  http::SendJson(res, 200, "{\"hello\":\"" + *name + "\"}");
}

TEST_CASE("json body: behind a route, over HTTP: bad JSON, any Content-Type, and a body too large") {
  Greeting greeting;
  http::ServerOptions options;
  options.max_body = 256;
  http::HttpServer server(options);
  server.Add(greeting, {{http::Method::kPost, "/greet", http::Access::kPublic, &PostGreet}});
  ServedOnLoopback served(server);
  httplib::Client client("127.0.0.1", served.port());

  auto r = client.Post("/greet", R"({"name": "ada"})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(greeting.last == "ada");
  // The Content-Type is not checked: `curl -d` sends form-urlencoded.
  r = client.Post("/greet", R"({"name": "bob"})", "application/x-www-form-urlencoded");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(greeting.last == "bob");
  r = client.Post("/greet", R"({"name": "cy"})", "text/plain");
  REQUIRE(r);
  CHECK(r->status == 200);

  r = client.Post("/greet", R"({"name": "dee", )", "application/json");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(ErrorCode(r->body) == "invalid_argument");
  CHECK(Contains(r->body, "malformed JSON at offset"));
  r = client.Post("/greet", R"({"times": 9, "colour": "red"})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(Contains(r->body, R"({"field":"colour","message":"unknown field"})"));
  CHECK(Contains(r->body, R"({"field":"name","message":"is required"})"));
  CHECK(Contains(r->body, R"({"field":"times","message":"must be in [1, 3], got 9"})"));
  CHECK(greeting.last == "cy");  // no bad request reached the write

  r = client.Post("/greet", R"({"name": ")" + std::string(300, 'e') + "\"}", "application/json");
  REQUIRE(r);
  CHECK(r->status == 413);
  CHECK(ErrorCode(r->body) == "payload_too_large");
  CHECK(greeting.last == "cy");
}

TEST_CASE("json body: nesting deeper than the limit, invalid UTF-8, NaN and huge numbers are refused") {
  // 200,000 levels: refused before parsing (a recursive parse or a
  // recursive serialisation would overflow the stack).
  for (const std::string& deep : {std::string(200000, '['), std::string(200000, '{'),
                                  "{\"a\":" + std::string(200000, '[') + std::string(200000, ']') + "}"}) {
    JsonBody body(deep, {"a"});
    CHECK_FALSE(body.ok());
    CHECK(Contains(body.status().message(), "nests deeper than 64 levels"));
  }
  // 64 levels are read; brackets inside strings do not count.
  std::string ok = "{\"a\":" + std::string(63, '[') + "\"[[[[{{{{\"" + std::string(63, ']') + "}";
  JsonBody within(ok, {"a"});
  CHECK(within.ok());
  CHECK(within.Raw("a").has_value());
  JsonBody over("{\"a\":" + std::string(64, '[') + std::string(64, ']') + "}", {"a"});
  CHECK(Contains(over.status().message(), "nests deeper than 64 levels (at offset 68)"));

  JsonBody bad_value("{\"a\": \"\xff\xfe\"}", {"a"});
  CHECK(Contains(bad_value.status().message(), "Invalid encoding"));
  JsonBody bad_key("{\"\xc0\xaf\": 1}", {"a"});
  CHECK(Contains(bad_key.status().message(), "Invalid encoding"));
  JsonBody nan(R"({"a": NaN})", {"a"});
  CHECK(Contains(nan.status().message(), "malformed JSON"));
  JsonBody inf(R"({"a": -Infinity})", {"a"});
  CHECK(Contains(inf.status().message(), "malformed JSON"));
  JsonBody huge(R"({"a": 1e999})", {"a"});
  CHECK(Contains(huge.status().message(), "malformed JSON"));
  JsonBody twice(R"({"a": "x", "a": 5})", {"a"});
  CHECK(Contains(twice.status().message(), "a: appears more than once"));
  JsonBody big_int(R"({"a": 123456789012345678901234567890})", {"a"});
  CHECK_FALSE(big_int.Int("a", 0, 10).has_value());
  CHECK_FALSE(big_int.ok());
}

}  // namespace
}  // namespace evolve::testing::services
