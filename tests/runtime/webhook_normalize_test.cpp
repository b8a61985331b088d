// Tests normalization of forge webhooks into git.push / ci.run.completed
// (data-driven cases in tests/data/webhooks/cases.json over trimmed real
// payloads) and the provider-native type naming rule.
#include "runtime/webhook/normalize.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>

using namespace rouse::webhook;

namespace {

std::string data_file(const std::string& name) {
  return std::string{ROUSE_WEBHOOK_DATA} + "/" + name;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Returns `json` re-serialized by simdjson, so texts compare independent of
/// whitespace; fails the test if `json` is not valid JSON.
std::string canonical(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  auto err = parser.parse(json.data(), json.size()).get(e);
  INFO("json: " << json);
  REQUIRE(err == simdjson::SUCCESS);
  return simdjson::minify(e);
}

/// Returns the only event `normalize` yields; fails the test otherwise.
normalized_event only(std::string_view provider, std::string_view event,
                      std::string_view body) {
  auto out = normalize(provider, event, body);
  REQUIRE(out.size() == 1);
  return out.front();
}

/// Returns the string field `key` of the JSON object `json`.
std::string field(const std::string& json, const char* key) {
  simdjson::dom::parser parser;
  std::string_view s;
  REQUIRE(parser.parse(json)[key].get_string().get(s) == simdjson::SUCCESS);
  return std::string{s};
}

} // namespace

TEST_CASE("webhook normalize: the data cases hold", "[runtime][webhook]") {
  simdjson::dom::parser parser;
  simdjson::dom::array cases;
  REQUIRE(parser.load(data_file("cases.json")).get_array().get(cases)
          == simdjson::SUCCESS);
  REQUIRE(cases.size() >= 10);
  std::set<std::string> used;
  for (auto c : cases) {
    std::string name{c["name"].get_string().value()};
    std::string provider{c["provider"].get_string().value()};
    std::string event{c["event"].get_string().value()};
    std::string payload_name{c["payload"].get_string().value()};
    used.insert(payload_name);
    INFO(name);
    auto payload = read_file(data_file(payload_name));
    CHECK(native_type(provider, event)
          == c["native_type"].get_string().value());
    auto got = normalize(provider, event, payload);
    simdjson::dom::array expect = c["expect"].get_array().value();
    REQUIRE(got.size() == expect.size());
    size_t i = 0;
    for (auto e : expect) {
      CHECK(got[i].type == e["type"].get_string().value());
      CHECK(canonical(got[i].data) == simdjson::minify(e["data"].value()));
      ++i;
    }
  }
  // Every payload file is exercised, so none rots unnoticed.
  for (const auto& entry :
       std::filesystem::directory_iterator{ROUSE_WEBHOOK_DATA}) {
    auto file = entry.path().filename().string();
    if (file != "cases.json" && entry.path().extension() == ".json")
      CHECK(used.count(file) == 1);
  }
}

TEST_CASE("webhook normalize: native types follow the naming rule",
          "[runtime][webhook]") {
  CHECK(native_type("github", "push") == "github.push");
  CHECK(native_type("github", "pull_request") == "github.pull_request");
  CHECK(native_type("forgejo", "push") == "forgejo.push");
  CHECK(native_type("gitea", "pull_request_review_comment")
        == "gitea.pull_request_review_comment");
  CHECK(native_type("gitlab", "Push Hook") == "gitlab.push");
  CHECK(native_type("gitlab", "Tag Push Hook") == "gitlab.tag_push");
  CHECK(native_type("gitlab", "Merge Request Hook") == "gitlab.merge_request");
  CHECK(native_type("gitlab", "Pipeline Hook") == "gitlab.pipeline");
  CHECK(native_type("gitlab", "Wiki Page Hook") == "gitlab.wiki_page");
  CHECK(native_type("gitlab", "Resource Access Token Hook")
        == "gitlab.resource_access_token");
  CHECK(native_type("gitlab", "PUSH HOOK") == "gitlab.push");
  CHECK(native_type("GitLab", "  Note   Hook ") == "gitlab.note");
  CHECK(native_type("gitlab", "Hook") == "gitlab.hook");
  CHECK(native_type("gitlab", "webhook") == "gitlab.webhook");
  CHECK(native_type("github", "") == "github.unknown");
  CHECK(native_type("github", " hook") == "github.hook");
  CHECK(native_type("github", "../x/y") == "github.x_y");
  CHECK(native_type("", "push") == "unknown.push");
  CHECK(native_type("stripe", "payment_intent.succeeded")
        == "stripe.payment_intent.succeeded");
  CHECK(native_type("slack", "app_mention") == "slack.app_mention");
  CHECK(native_type("github", "a..b.") == "github.a.b");
  CHECK(native_type("github", "...") == "github.unknown");
  CHECK(native_type("git.hub", "push") == "git_hub.push");
}

TEST_CASE("webhook normalize: push ids hash repo, ref, before and after",
          "[runtime][webhook]") {
  const std::string a(40, 'a'), b(40, 'b'), zeros(40, '0');
  // Expected values: printf 'octo/repo\nrefs/heads/main\naaa...\nbbb...' |
  // sha256sum, first 32 hex characters.
  CHECK(push_event_id("octo/repo", "refs/heads/main", a, b)
        == "push-f4e6d9f594e7d0ff4aad8d5ed8c8b0c0");
  CHECK(hashed_event_id("x", {"a", "", "b"})
        == "x-38022fd2b8dbc5cb3d2cee74e083edbf");
  CHECK(hashed_event_id("empty", {})
        == "empty-e3b0c44298fc1c149afbf4c8996fb924");
  CHECK(push_event_id("octo/repo", "refs/heads/main", a, b)
        == hashed_event_id("push", {"octo/repo", "refs/heads/main", a, b}));

  SECTION("every part and its position matter") {
    std::set<std::string> ids{
        push_event_id("octo/repo", "refs/heads/main", a, b),
        push_event_id("octo/repo2", "refs/heads/main", a, b),
        push_event_id("octo/repo", "refs/heads/dev", a, b),
        push_event_id("octo/repo", "refs/heads/main", zeros, b),
        push_event_id("octo/repo", "refs/heads/main", a, zeros),
        push_event_id("octo/repo", "refs/heads/main", b, a),
        hashed_event_id("push", {"ab", "c"}),
        hashed_event_id("push", {"a", "bc"}),
        hashed_event_id("commit", {"octo/repo", "refs/heads/main", a, b})};
    CHECK(ids.size() == 9);
  }
  SECTION("ids are the prefix, a dash and 32 lower-case hex characters") {
    auto id = push_event_id("", "", "", "");
    REQUIRE(id.size() == 5 + 32);
    CHECK(id.starts_with("push-"));
    CHECK(id.substr(5).find_first_not_of("0123456789abcdef")
          == std::string::npos);
    CHECK(push_event_id("", "", "", "") == id);
  }
}

TEST_CASE("webhook normalize: invalid or foreign input yields nothing",
          "[runtime][webhook]") {
  auto push = read_file(data_file("github_push.json"));
  CHECK(normalize("github", "push", "").empty());
  CHECK(normalize("github", "push", "{\"ref\":").empty());
  CHECK(normalize("github", "push", "[1,2,3]").empty());
  CHECK(normalize("github", "push", "\"refs/heads/main\"").empty());
  CHECK(normalize("github", "push", std::string_view{"\0\xff\x01", 3}).empty());
  CHECK(normalize("bitbucket", "push", push).empty());
  CHECK(normalize("stripe", "push", push).empty());
  CHECK(normalize("GitHub", "push", push).empty());
  CHECK(normalize("github", "ping", push).empty());
}

TEST_CASE("webhook normalize: missing or mistyped fields become empty",
          "[runtime][webhook]") {
  SECTION("an empty push object") {
    auto ev = only("github", "push", "{}");
    CHECK(ev.type == "git.push");
    CHECK(canonical(ev.data)
          == R"({"repo":"","ref":"","before":"","after":"","commits":[],)"
             R"("pusher":"","provider":"github"})");
  }
  SECTION("wrong types everywhere") {
    auto ev = only("forgejo", "push",
                   R"({"ref":7,"before":null,"after":[],"repository":"x",)"
                   R"("commits":{"id":"a"},"pusher":{"login":false}})");
    CHECK(canonical(ev.data)
          == R"({"repo":"","ref":"","before":"","after":"","commits":[],)"
             R"("pusher":"","provider":"forgejo"})");
  }
  SECTION("commits that are not objects") {
    auto ev = only("gitlab", "Push Hook",
                   R"({"commits":[1,"x",null,{"id":"c1","author":"bob"}]})");
    CHECK(
        canonical(ev.data)
        == R"({"repo":"","ref":"","before":"","after":"","commits":[)"
           R"({"id":"","message":"","author":{"name":"","email":""},"url":""},)"
           R"({"id":"","message":"","author":{"name":"","email":""},"url":""},)"
           R"({"id":"","message":"","author":{"name":"","email":""},"url":""},)"
           R"({"id":"c1","message":"","author":{"name":"","email":""},"url":""}],)"
           R"("pusher":"","provider":"gitlab"})");
  }
  SECTION("a finished run with nothing else") {
    auto ev = only("github", "workflow_run", R"({"action":"completed"})");
    CHECK(ev.type == "ci.run.completed");
    CHECK(canonical(ev.data)
          == R"({"repo":"","ref":"","sha":"","workflow":"","conclusion":"",)"
             R"("url":"","provider":"github"})");
  }
  SECTION("control characters and invalid UTF-8 stay valid JSON") {
    auto ev = only("github", "push",
                   "{\"ref\":\"refs/heads/a\\u0000b\",\"commits\":[{\"message\""
                   ":\"tab\\there \\\"quoted\\\" \\\\ back\"}]}");
    auto text = canonical(ev.data);
    CHECK(field(ev.data, "ref") == std::string{"refs/heads/a\0b", 14});
    CHECK(text.find(R"("message":"tab\there \"quoted\" \\ back")")
          != std::string::npos);
  }
}

TEST_CASE("webhook normalize: only finished CI runs count",
          "[runtime][webhook]") {
  SECTION("GitHub runs that are requested or in progress") {
    CHECK(normalize("github", "workflow_run",
                    R"({"action":"requested","workflow_run":{"id":1}})")
              .empty());
    CHECK(normalize("github", "workflow_run",
                    R"({"action":"in_progress","workflow_run":{"id":1}})")
              .empty());
    CHECK(normalize("github", "check_suite", R"({"action":"requested"})")
              .empty());
    CHECK(
        normalize("github", "check_run", R"({"action":"completed"})").empty());
  }
  SECTION("check_suite is a GitHub event only") {
    CHECK(
        normalize("gitea", "check_suite", R"({"action":"completed"})").empty());
  }
  SECTION("GitHub conclusions map onto the normalized vocabulary") {
    auto conclusion = [](const char* c) {
      auto body = std::string{R"({"action":"completed","workflow_run":{)"}
                  + R"("conclusion":")" + c + R"("}})";
      return field(only("github", "workflow_run", body).data, "conclusion");
    };
    CHECK(conclusion("success") == "success");
    CHECK(conclusion("neutral") == "success");
    CHECK(conclusion("failure") == "failure");
    CHECK(conclusion("timed_out") == "failure");
    CHECK(conclusion("startup_failure") == "failure");
    CHECK(conclusion("action_required") == "failure");
    CHECK(conclusion("cancelled") == "cancelled");
    CHECK(conclusion("stale") == "cancelled");
    CHECK(conclusion("skipped") == "skipped");
    CHECK(conclusion("something_new") == "something_new");
  }
  SECTION("GitLab statuses: finished ones map, others yield nothing") {
    auto pipeline = [](const char* status) {
      return normalize("gitlab", "Pipeline Hook",
                       std::string{R"({"object_attributes":{"status":")"}
                           + status
                           + R"(","ref":"refs/merge-requests/4/head"}})");
    };
    for (auto s : {"created", "waiting_for_resource", "preparing", "pending",
                   "running", "manual", "scheduled", "canceling", ""})
      CHECK(pipeline(s).empty());
    CHECK(field(pipeline("success").front().data, "conclusion") == "success");
    CHECK(field(pipeline("failed").front().data, "conclusion") == "failure");
    CHECK(field(pipeline("canceled").front().data, "conclusion")
          == "cancelled");
    CHECK(field(pipeline("skipped").front().data, "conclusion") == "skipped");
    // A ref that already is a full ref is kept as is.
    CHECK(field(pipeline("success").front().data, "ref")
          == "refs/merge-requests/4/head");
  }
  SECTION("a GitHub run without a branch has an empty ref") {
    auto ev = only("github", "workflow_run",
                   R"({"action":"completed","workflow_run":)"
                   R"({"head_branch":null,"head_sha":"abc"}})");
    CHECK(field(ev.data, "ref").empty());
    CHECK(field(ev.data, "sha") == "abc");
  }
}

TEST_CASE("webhook normalize: truncated and mutated payloads never crash",
          "[runtime][webhook]") {
  std::mt19937 rng{7};
  const std::vector<std::pair<std::string, std::string>> inputs{
      {"github", "push"},          {"github", "workflow_run"},
      {"github", "check_suite"},   {"forgejo", "push"},
      {"gitea", "workflow_run"},   {"gitlab", "Push Hook"},
      {"gitlab", "Tag Push Hook"}, {"gitlab", "Pipeline Hook"},
  };
  const std::vector<std::string> files{
      "github_push.json",        "github_workflow_run.json",
      "github_check_suite.json", "forgejo_push.json",
      "gitea_workflow_run.json", "gitlab_push.json",
      "gitlab_tag_push.json",    "gitlab_pipeline.json"};
  for (size_t k = 0; k < files.size(); ++k) {
    auto payload = read_file(data_file(files[k]));
    const auto& [provider, event] = inputs[k];
    INFO(files[k]);
    for (size_t cut = 0; cut < payload.size(); cut += 7)
      for (const auto& ev :
           normalize(provider, event, std::string_view{payload}.substr(0, cut)))
        canonical(ev.data);
    std::uniform_int_distribution<size_t> pos{0, payload.size() - 1};
    std::uniform_int_distribution<int> byte{0, 255};
    for (int i = 0; i < 200; ++i) {
      auto mutated = payload;
      for (int m = 0; m < 3; ++m)
        mutated[pos(rng)] = static_cast<char>(byte(rng));
      for (const auto& ev : normalize(provider, event, mutated))
        canonical(ev.data);
    }
    // The unmodified payload normalizes to exactly one event.
    CHECK(normalize(provider, event, payload).size() == 1);
  }
}
