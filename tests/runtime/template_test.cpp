// Tests {{path}} templates: parsing errors, attribute and data lookups, and
// that missing paths render empty and are reported.
#include "runtime/template/template.hpp"

#include "messages/errc.hpp"

#include <catch2/catch.hpp>

using namespace rouse;

namespace {

event sample() {
  event ev;
  ev.id = "e-1";
  ev.source = "github";
  ev.type = "github.pull_request";
  ev.subject = "pr/7";
  ev.data = R"j({"pull_request": {"number": 7, "title": "it's $(x)",
                "draft": false, "labels": ["a", "b"], "head": null},
               "commits": [{"id": "c0"}, {"id": "c1"}], "ratio": 0.5})j";
  ev.extensions.push_back({"traceparent", "\"00-abc\""});
  ev.extensions.push_back({"priority", "3"});
  return ev;
}

std::string render(const std::string& text,
                   std::vector<std::string>* missing_out = nullptr) {
  auto t = tmpl::text_template::parse(text);
  REQUIRE(t);
  auto ev = sample();
  tmpl::event_lookup lookup{ev};
  std::vector<std::string> missing;
  auto out = t->render(lookup, missing);
  if (missing_out != nullptr)
    *missing_out = missing;
  else
    CHECK(missing.empty());
  return out;
}

} // namespace

TEST_CASE("template: renders attributes, extensions and data paths",
          "[runtime][template]") {
  CHECK(render("plain text") == "plain text");
  CHECK(render("{{type}}:{{ subject }}") == "github.pull_request:pr/7");
  CHECK(render("{{id}} {{source}}") == "e-1 github");
  CHECK(render("{{traceparent}}/{{priority}}") == "00-abc/3");
  CHECK(render("#{{data.pull_request.number}}") == "#7");
  CHECK(render("{{data.pull_request.title}}") == "it's $(x)");
  CHECK(render("{{data.pull_request.draft}}") == "false");
  CHECK(render("{{data.ratio}}") == "0.5");
  CHECK(render("{{data.pull_request.labels}}") == R"(["a","b"])");
  CHECK(render("{{data.commits.1.id}}") == "c1");
  CHECK(render("{{data.pull_request.head}}") == "");
  CHECK(render("{{{{literal}}") == "{{literal}}");
}

TEST_CASE("template: missing paths render empty and are reported",
          "[runtime][template]") {
  std::vector<std::string> missing;
  CHECK(render("[{{data.nope}}|{{data.commits.9.id}}|{{time}}]", &missing)
        == "[||]");
  CHECK(missing
        == std::vector<std::string>{"data.nope", "data.commits.9.id", "time"});
  event bare;
  tmpl::event_lookup lookup{bare};
  CHECK_FALSE(lookup.get("data.x").has_value());
  event not_json;
  not_json.data = "{oops";
  tmpl::event_lookup broken{not_json};
  CHECK_FALSE(broken.get("data.x").has_value());
}

TEST_CASE("template: rejects malformed templates with the reason",
          "[runtime][template]") {
  auto error_of = [](const char* text) {
    auto t = tmpl::text_template::parse(text);
    REQUIRE_FALSE(t);
    return describe(t.error());
  };
  CHECK_THAT(error_of("{{data.x"), Catch::Contains("unclosed"));
  CHECK_THAT(error_of("a {{ }} b"), Catch::Contains("empty"));
  CHECK_THAT(error_of("{{data x}}"), Catch::Contains("invalid character"));
  CHECK_THAT(error_of("{{data..x}}"), Catch::Contains("invalid template path"));
  CHECK_FALSE(tmpl::text_template::parse("no refs")->has_references());
  CHECK(tmpl::text_template::parse("{{type}}")->has_references());
}
