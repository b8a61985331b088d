// Tests webhook verification for the git forges (GitHub, Forgejo, Gitea,
// GitLab): accept, reject with the right reason, secret rotation and
// malformed input. Expected signatures come from GitHub's published example
// or were computed with Python's hmac module
// (tests/integration/webhook_sign.py).
#include "runtime/webhook/verify.hpp"

#include "tests/runtime/webhook_verify_test_support.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace rouse::webhook;
using namespace rouse::webhook_verify_test;

namespace {

// HMAC-SHA256("forge-secret", forge_body) in hex.
constexpr std::string_view forge_body =
    R"({"ref":"refs/heads/main","after":"abc"})";
constexpr std::string_view forge_signature =
    "6d22a3f7436cbdaac8dde395f27dae24826cd2ca7179c966bc84588a6ebea269";
// HMAC-SHA256("forge-secret", bytes 0..255) in hex.
constexpr std::string_view binary_signature =
    "4101d0082ca64775274a7c42f1801caa4a7732d97f183109a63dd15be319c3a5";

} // namespace

TEST_CASE("webhook: github verifies X-Hub-Signature-256",
          "[runtime][webhook]") {
  auto cfg = config(scheme::github, {std::string{github_secret}});
  auto req = github_request();
  SECTION("GitHub's published test vector is accepted") {
    auto info = accepted(cfg, req);
    CHECK(info.provider == "github");
    CHECK(info.event_type == "push");
    CHECK(info.delivery_id == "72d3162e-cc78-11e3-81ab-4c9367dc0958");
  }
  SECTION("header names and hex digits are case-insensitive") {
    req.erase("X-Hub-Signature-256");
    std::string upper{github_signature};
    for (size_t i = 7; i < upper.size(); ++i)
      if (upper[i] >= 'a' && upper[i] <= 'f')
        upper[i] = static_cast<char>(upper[i] - 'a' + 'A');
    req.set("x-hub-signature-256", upper);
    accepted(cfg, req);
  }
  SECTION("a second secret verifies (rotation)") {
    cfg.secrets = {"new-secret", std::string{github_secret}};
    accepted(cfg, req);
  }
  SECTION("a wrong secret is bad_signature") {
    cfg.secrets = {"not it"};
    CHECK(rejection(cfg, req) == reject_reason::bad_signature);
  }
  SECTION("a tampered body is bad_signature") {
    req.body = "Hello, World?";
    CHECK(rejection(cfg, req) == reject_reason::bad_signature);
  }
  SECTION("a wrong signature is bad_signature") {
    req.set("X-Hub-Signature-256", "sha256=" + std::string(64, '0'));
    CHECK(rejection(cfg, req) == reject_reason::bad_signature);
  }
  SECTION("a missing or empty header is missing_signature") {
    req.erase("X-Hub-Signature-256");
    CHECK(rejection(cfg, req) == reject_reason::missing_signature);
    req.set("X-Hub-Signature-256", "  ");
    CHECK(rejection(cfg, req) == reject_reason::missing_signature);
  }
  SECTION("the legacy sha1 header alone is missing_signature") {
    req.erase("X-Hub-Signature-256");
    req.set("X-Hub-Signature", "sha1=" + std::string(40, 'a'));
    CHECK(rejection(cfg, req) == reject_reason::missing_signature);
  }
  SECTION("malformed values are malformed_signature") {
    for (std::string bad :
         {std::string{github_signature.substr(7)}, std::string{"sha256="},
          std::string{"sha256=xyz"}, "sha256=" + std::string(63, 'a'),
          "sha256=" + std::string(66, 'a'), "sha1=" + std::string(64, 'a'),
          "sha256=" + std::string(62, 'a') + "zz"}) {
      INFO(bad);
      req.set("X-Hub-Signature-256", bad);
      CHECK(rejection(cfg, req) == reject_reason::malformed_signature);
    }
  }
}

TEST_CASE("webhook: forgejo verifies X-Forgejo-Signature, else "
          "X-Gitea-Signature",
          "[runtime][webhook]") {
  auto cfg = config(scheme::forgejo, {"forge-secret"});
  fake_request req;
  req.body = std::string{forge_body};
  req.set("X-Forgejo-Signature", std::string{forge_signature})
      .set("X-Forgejo-Event", "push")
      .set("X-Forgejo-Delivery", "f-1")
      .set("X-Gitea-Event", "push")
      .set("X-Gitea-Delivery", "g-1");
  SECTION("the Forgejo signature is accepted with Forgejo's headers") {
    auto info = accepted(cfg, req);
    CHECK(info.provider == "forgejo");
    CHECK(info.event_type == "push");
    CHECK(info.delivery_id == "f-1");
  }
  SECTION("X-Gitea-Signature alone is accepted; Gitea headers fill in") {
    req.erase("X-Forgejo-Signature").erase("X-Forgejo-Delivery");
    req.erase("X-Forgejo-Event");
    req.set("X-Gitea-Signature", std::string{forge_signature});
    auto info = accepted(cfg, req);
    CHECK(info.event_type == "push");
    CHECK(info.delivery_id == "g-1");
  }
  SECTION("X-Forgejo-Signature takes precedence over X-Gitea-Signature") {
    req.set("X-Forgejo-Signature", std::string(64, 'a'));
    req.set("X-Gitea-Signature", std::string{forge_signature});
    CHECK(rejection(cfg, req) == reject_reason::bad_signature);
  }
  SECTION("rotation") {
    cfg.secrets = {"old", "forge-secret"};
    accepted(cfg, req);
  }
  SECTION("rejections") {
    SECTION("tampered body") {
      req.body += " ";
      CHECK(rejection(cfg, req) == reject_reason::bad_signature);
    }
    SECTION("wrong secret") {
      cfg.secrets = {"forge-secreT"};
      CHECK(rejection(cfg, req) == reject_reason::bad_signature);
    }
    SECTION("missing") {
      req.erase("X-Forgejo-Signature");
      CHECK(rejection(cfg, req) == reject_reason::missing_signature);
    }
    SECTION("malformed") {
      req.set("X-Forgejo-Signature", "sha256=" + std::string{forge_signature});
      CHECK(rejection(cfg, req) == reject_reason::malformed_signature);
      req.set("X-Forgejo-Signature", std::string(64, 'g'));
      CHECK(rejection(cfg, req) == reject_reason::malformed_signature);
    }
  }
}

TEST_CASE("webhook: gitea verifies X-Gitea-Signature over binary bodies",
          "[runtime][webhook]") {
  auto cfg = config(scheme::gitea, {"forge-secret"});
  fake_request req;
  req.body = all_bytes();
  req.set("X-Gitea-Signature", std::string{binary_signature})
      .set("X-Gitea-Event", "pull_request")
      .set("X-Gitea-Delivery", "g-2");
  auto info = accepted(cfg, req);
  CHECK(info.provider == "gitea");
  CHECK(info.event_type == "pull_request");
  CHECK(info.delivery_id == "g-2");
  SECTION("rotation") {
    cfg.secrets = {"a", "b", "forge-secret"};
    accepted(cfg, req);
  }
  SECTION("a flipped byte is bad_signature") {
    req.body[128] = 'x';
    CHECK(rejection(cfg, req) == reject_reason::bad_signature);
  }
  SECTION("X-Forgejo-Signature does not count for gitea") {
    req.erase("X-Gitea-Signature");
    req.set("X-Forgejo-Signature", std::string{binary_signature});
    CHECK(rejection(cfg, req) == reject_reason::missing_signature);
  }
  SECTION("a truncated signature is malformed_signature") {
    req.set("X-Gitea-Signature", std::string{binary_signature.substr(2)});
    CHECK(rejection(cfg, req) == reject_reason::malformed_signature);
  }
}

TEST_CASE("webhook: gitlab compares X-Gitlab-Token", "[runtime][webhook]") {
  auto cfg = config(scheme::gitlab, {"gl-token"});
  fake_request req;
  req.body = "{}";
  req.set("X-Gitlab-Token", "gl-token")
      .set("X-Gitlab-Event", "Push Hook")
      .set("X-Gitlab-Event-UUID", "uuid-1")
      .set("Idempotency-Key", "idem-1");
  SECTION("the token is accepted; Idempotency-Key is the delivery id") {
    auto info = accepted(cfg, req);
    CHECK(info.provider == "gitlab");
    CHECK(info.event_type == "Push Hook");
    CHECK(info.delivery_id == "idem-1");
  }
  SECTION("without Idempotency-Key the event UUID is the delivery id") {
    req.erase("Idempotency-Key");
    CHECK(accepted(cfg, req).delivery_id == "uuid-1");
  }
  SECTION("rotation") {
    cfg.secrets = {"old-token", "gl-token"};
    accepted(cfg, req);
  }
  SECTION("a wrong, shorter or longer token is bad_signature") {
    for (auto bad : {"gl-tokem", "gl-toke", "gl-token2"}) {
      req.set("X-Gitlab-Token", bad);
      CHECK(rejection(cfg, req) == reject_reason::bad_signature);
    }
  }
  SECTION("a missing token is missing_signature") {
    req.erase("X-Gitlab-Token");
    CHECK(rejection(cfg, req) == reject_reason::missing_signature);
  }
}
