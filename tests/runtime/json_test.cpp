// Tests CloudEvents JSON decoding and encoding.
#include "runtime/json/cloudevent.hpp"
#include "runtime/json/writer.hpp"
#include "tests/support/random_json.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <random>
#include <string>

using namespace rouse;

namespace {

/// Leaves with escapes and numbers simdjson respells.
const char* const data_scalars[] = {
    "0",
    "-0",
    "-1",
    "123456789012345678",
    "-123456789012345678",
    "1234567890123456789",
    "1E2",
    "42",
    "18446744073709551615",
    "-9223372036854775808",
    "3e2",
    "1.5",
    "-0.0",
    "1e300",
    "2.5E-3",
    "0.1",
    "1234567890123456789.5",
    "true",
    "false",
    "null",
    R"("x")",
    R"("")",
    R"("a\"b\\c\/d")",
    R"("\u00e9\n\t\r\b\f")",
    R"("\u0001\u001f\u007f")",
    R"("\ud83d\ude00 ok")",
    R"("a long string value, longer than SSO")"};

const char* const data_keys[] = {"a", "", "k\\\"q", "\\u0002", "é"};

/// Spaced JSON with every kind of scalar, escapes, numbers simdjson respells,
/// and nesting past simdjson's formatter's 16 levels.
const test::random_json_shape data_shape{.scalars = data_scalars,
                                         .keys = data_keys,
                                         .max_depth = 20,
                                         .member_bound = 4,
                                         .chain_below_depth = 18,
                                         .spaced = true};

} // namespace

TEST_CASE("json: a structured CloudEvent decodes with data and extensions",
          "[runtime][json]") {
  auto evs = json::decode_events(R"({"specversion":"1.0","id":"a1",
    "source":"github","type":"github.push","subject":"main",
    "time":"2026-11-21T09:00:00Z","datacontenttype":"application/json",
    "traceparent":"00-abc","rousecount":3,
    "data":{"ref":"refs/heads/main","n":[1,2.5,true,null]}})");
  REQUIRE(evs);
  REQUIRE(evs->size() == 1);
  const auto& ev = evs->front();
  CHECK(ev.id == "a1");
  CHECK(ev.source == "github");
  CHECK(ev.type == "github.push");
  CHECK(ev.subject == "main");
  CHECK(ev.data == R"({"ref":"refs/heads/main","n":[1,2.5,true,null]})");
  REQUIRE(ev.extensions.size() == 2);
  CHECK(ev.extensions[0] == extension_attr{"traceparent", "\"00-abc\""});
  CHECK(ev.extensions[1] == extension_attr{"rousecount", "3"});
}

TEST_CASE("json: encoding then decoding keeps the event", "[runtime][json]") {
  event ev;
  ev.id = "x\"y";
  ev.source = "src/\n1";
  ev.type = "t";
  ev.subject = "s";
  ev.data = R"({"a":"\u00e9","b":[1,2]})";
  ev.extensions.push_back({"ext", "true"});
  auto text = json::encode_cloudevent(ev);
  auto back = json::decode_event(text);
  REQUIRE(back);
  CHECK(back->id == ev.id);
  CHECK(back->source == ev.source);
  CHECK(back->subject == ev.subject);
  CHECK(back->extensions == ev.extensions);
  CHECK(back->data == R"({"a":"é","b":[1,2]})");
}

TEST_CASE("json: base64 data round-trips", "[runtime][json]") {
  auto ev = json::decode_event(
      R"({"id":"1","source":"s","type":"t","data_base64":"AAEC"})");
  REQUIRE(ev);
  CHECK(ev->data_is_base64);
  CHECK(ev->data == "AAEC");
  CHECK(json::encode_cloudevent(*ev).find(R"("data_base64":"AAEC")")
        != std::string::npos);
}

TEST_CASE("json: a batch decodes every element", "[runtime][json]") {
  auto evs = json::decode_events(R"([{"id":"1","source":"s","type":"t"},
                                     {"id":"2","source":"s","type":"u"}])");
  REQUIRE(evs);
  REQUIRE(evs->size() == 2);
  CHECK((*evs)[1].type == "u");
}

TEST_CASE("json: malformed events are rejected with a clear message",
          "[runtime][json]") {
  auto reject = [](std::string_view body) {
    auto r = json::decode_events(body);
    REQUIRE_FALSE(r);
    return describe(r.error());
  };
  CHECK(reject("{nope").find("invalid JSON") == 0);
  CHECK(reject(R"({"id":"1","type":"t"})")
        == R"(missing required attribute "source")");
  CHECK(reject(R"({"id":"1","source":"s"})")
        == R"(missing required attribute "type")");
  CHECK(reject(R"({"id":"1","source":"s","type":"t","specversion":"0.3"})")
        == R"(unsupported specversion "0.3" (only "1.0" is supported))");
  CHECK(reject(R"({"id":1,"source":"s","type":"t"})")
        == R"(attribute "id" must be a string)");
  CHECK(
      reject(R"([{"id":"1","source":"s","type":"t"},{"id":"2","source":"s"}])")
      == R"(event[1]: missing required attribute "type")");
  CHECK(reject("[]") == "empty batch: no events given");
  CHECK(reject("42") == "body must be a CloudEvent object or an array of them");
  CHECK(reject(R"({"id":"1","source":"s","type":"t","Bad-Name":"x"})")
            .find("invalid extension attribute name")
        == 0);
  CHECK(reject(R"({"id":"1","source":"s","type":"t","ext":{"a":1}})")
            .find("must be a string, number or boolean")
        != std::string::npos);
  CHECK(reject(
            R"({"id":"1","source":"s","type":"t","data":1,"data_base64":"AA"})")
        == R"(both "data" and "data_base64" given)");
}

TEST_CASE("json: a missing id is generated or rejected by option",
          "[runtime][json]") {
  auto body = R"({"source":"s","type":"t"})";
  auto generated = json::decode_event(body);
  REQUIRE(generated);
  CHECK(generated->id.size() == 32);
  json::decode_options strict;
  strict.generate_missing_id = false;
  auto rejected = json::decode_event(body, strict);
  REQUIRE_FALSE(rejected);
  CHECK(describe(rejected.error()) == R"(missing required attribute "id")");
}

TEST_CASE("json: a batch over the limit is too large", "[runtime][json]") {
  json::decode_options opts;
  opts.max_events = 2;
  auto r = json::decode_events(R"([{"id":"1","source":"s","type":"t"},
    {"id":"2","source":"s","type":"t"},{"id":"3","source":"s","type":"t"}])",
                               opts);
  REQUIRE_FALSE(r);
  CHECK(is(r.error(), errc::too_large));
}

TEST_CASE("json: strings are escaped, invalid UTF-8 replaced",
          "[runtime][json]") {
  CHECK(json::quote("a\"b\\c\n\x01") == R"("a\"b\\c\n\u0001")");
  CHECK(json::quote("\xff") == R"("\ufffd")");
  CHECK(json::quote("é") == "\"é\"");
  json::object_writer w;
  w.field("a", "x").field("n", int64_t{-3}).field("b", true).raw("d", "");
  CHECK(w.finish() == R"({"a":"x","n":-3,"b":true,"d":null})");
}

TEST_CASE("json: timestamps format as RFC 3339 UTC", "[runtime][json]") {
  CHECK(json::format_rfc3339(1'795'251'600'123'000'000)
        == "2026-11-21T09:00:00.123Z");
}

TEST_CASE("json: data and extensions are stored as simdjson minifies them",
          "[runtime][json]") {
  simdjson::dom::parser parser;
  auto check_data = [&](const std::string& data_json) {
    INFO("data: " << data_json);
    std::string body = R"({"id":"1","source":"s","type":"t","x":)" + data_json
                       + R"(,"data":)" + data_json + "}";
    bool scalar =
        data_json[0] != '{' && data_json[0] != '[' && data_json != "null";
    auto ev = json::decode_event(body);
    if (!scalar) {
      // Extensions must be scalars; the same body without one decodes.
      CHECK_FALSE(ev);
      body = R"({"id":"1","source":"s","type":"t","data":)" + data_json + "}";
      ev = json::decode_event(body);
    }
    REQUIRE(ev);
    simdjson::dom::element doc;
    REQUIRE(parser.parse(data_json).get(doc) == simdjson::SUCCESS);
    CHECK(ev->data == simdjson::minify(doc));
    if (scalar) {
      REQUIRE(ev->extensions.size() == 1);
      CHECK(ev->extensions[0].value_json == simdjson::minify(doc));
    }
  };
  std::mt19937_64 rng{20261121};
  for (int i = 0; i < 3000; ++i)
    check_data(test::random_json(rng, data_shape));
  std::string deep;
  for (int i = 0; i < 40; ++i)
    deep += i % 2 ? R"({"k":)" : "[";
  deep += "1";
  for (int i = 39; i >= 0; --i)
    deep += i % 2 ? "}" : "]";
  check_data(deep);
}

TEST_CASE("json: data is found however the body spells its keys",
          "[runtime][json]") {
  simdjson::dom::parser parser;
  auto data_of = [&](const std::string& body) {
    INFO("body: " << body);
    auto ev = json::decode_event(body);
    REQUIRE(ev);
    simdjson::dom::element doc;
    REQUIRE(parser.parse(body).get(doc) == simdjson::SUCCESS);
    simdjson::dom::element data;
    REQUIRE(doc["data"].get(data) == simdjson::SUCCESS);
    CHECK(ev->data == simdjson::minify(data));
    return ev->data;
  };
  CHECK(data_of(
            R"( {"data" : [ 1 , "a b" ] , "id":"1","source":"s","type":"t"} )")
        == R"([1,"a b"])");
  // An escaped key may spell "data"; the parser's reading decides.
  CHECK(data_of(R"({"id":"1","source":"s","type":"t","d\u0061ta":{"k":[2]}})")
        == R"({"k":[2]})");
  CHECK(data_of(R"({"id":"1","sou\u0072ce":"s","type":"t","data":{"x":"\/"}})")
        == R"({"x":"/"})");
  CHECK(data_of(R"({"id":"1","source":"s","type":"t","data":"x","datax":1})")
        == R"("x")");
  CHECK(data_of(
            R"({"id":"1","source":"s","type":"t","data":{"data":{"data":1}}})")
        == R"({"data":{"data":1}})");
}

TEST_CASE("json: decode_event answers as decode_events of one element",
          "[runtime][json]") {
  for (
      std::string_view body :
      {R"({"id":"1","source":"s","type":"t","data":{"a":[1,2]}})",
       R"([{"id":"1","source":"s","type":"t"}])",
       R"([{"id":"1","source":"s","type":"t"},{"id":"2","source":"s","type":"t"}])",
       R"([{"id":"1","source":"s"}])", R"({"id":"1","source":"s"})", "[]",
       "[1]", "42", "{nope", "",
       R"({"id":"1","source":"s","type":"t","data":1,"data_base64":"AA"})"}) {
    INFO("body: " << body);
    auto one = json::decode_event(body);
    auto many = json::decode_events(body);
    if (many && many->size() == 1) {
      REQUIRE(one);
      CHECK(*one == many->front());
    } else if (many) {
      REQUIRE_FALSE(one);
      CHECK(describe(one.error()) == "expected one CloudEvent object");
    } else {
      REQUIRE_FALSE(one);
      CHECK(one.error() == many.error());
    }
  }
}
