// Tests webhook verification for every scheme (accept, reject with the right
// reason, secret rotation, malformed input), config validation and the crypto
// helpers. Expected signatures come from the providers' published examples or
// were computed with Python's hmac module (tests/integration/webhook_sign.py).
#include "runtime/webhook/crypto.hpp"
#include "runtime/webhook/verify.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <utility>
#include <vector>

using namespace rouse::webhook;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto la = a[i] >= 'A' && a[i] <= 'Z' ? a[i] - 'A' + 'a' : a[i];
    auto lb = b[i] >= 'A' && b[i] <= 'Z' ? b[i] - 'A' + 'a' : b[i];
    if (la != lb)
      return false;
  }
  return true;
}

/// A request with headers looked up case-insensitively, as the HTTP layer
/// does.
struct fake_request {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int64_t now = 0;

  fake_request& set(std::string name, std::string value) {
    erase(name);
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }

  fake_request& erase(std::string_view name) {
    std::erase_if(headers,
                  [&](const auto& h) { return iequals(h.first, name); });
    return *this;
  }

  request_view view() const {
    request_view v;
    v.header =
        [this](std::string_view name) -> std::optional<std::string_view> {
      for (const auto& [k, val] : headers)
        if (iequals(k, name))
          return std::string_view{val};
      return std::nullopt;
    };
    v.body = body;
    v.now_unix_s = now;
    return v;
  }
};

verify_config config(scheme kind, std::vector<std::string> secrets) {
  verify_config cfg;
  cfg.kind = kind;
  cfg.secrets = std::move(secrets);
  return cfg;
}

/// Returns the reason `req` is rejected for; fails the test if it verifies.
reject_reason rejection(const verify_config& cfg, const fake_request& req) {
  auto r = verify(cfg, req.view());
  INFO("detail: " << r.detail);
  REQUIRE_FALSE(r.ok);
  CHECK_FALSE(r.detail.empty());
  return r.reason;
}

verified accepted(const verify_config& cfg, const fake_request& req) {
  auto r = verify(cfg, req.view());
  INFO("reason: " << to_string(r.reason) << ", detail: " << r.detail);
  REQUIRE(r.ok);
  return r.info;
}

std::string all_bytes() {
  std::string s;
  for (int i = 0; i < 256; ++i)
    s += static_cast<char>(i);
  return s;
}

// GitHub's documented example (docs.github.com, "Validating webhook
// deliveries").
constexpr std::string_view github_secret = "It's a Secret to Everybody";
constexpr std::string_view github_signature =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

fake_request github_request() {
  fake_request req;
  req.body = "Hello, World!";
  req.set("X-Hub-Signature-256", std::string{github_signature})
      .set("X-GitHub-Event", "push")
      .set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958");
  return req;
}

// HMAC-SHA256("forge-secret", forge_body) in hex.
constexpr std::string_view forge_body =
    R"({"ref":"refs/heads/main","after":"abc"})";
constexpr std::string_view forge_signature =
    "6d22a3f7436cbdaac8dde395f27dae24826cd2ca7179c966bc84588a6ebea269";
// HMAC-SHA256("forge-secret", bytes 0..255) in hex.
constexpr std::string_view binary_signature =
    "4101d0082ca64775274a7c42f1801caa4a7732d97f183109a63dd15be319c3a5";

// Stripe: secret "whsec_stripe_test", t=1700000000, stripe_body.
constexpr int64_t stripe_t = 1700000000;
constexpr std::string_view stripe_body =
    R"({"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"payment_intent.succeeded"})";
constexpr std::string_view stripe_v1 =
    "75fc9144751904bd4379377a2438915208638f820fb7bad69da853e62ab131db";

fake_request stripe_request(std::string header) {
  fake_request req;
  req.body = std::string{stripe_body};
  req.now = stripe_t;
  req.set("Stripe-Signature", std::move(header));
  return req;
}

// Slack's documented example (api.slack.com, "Verifying requests from
// Slack").
constexpr std::string_view slack_secret = "8f742231b10e8888abcd99yyyzzz85a5";
constexpr int64_t slack_ts = 1531420618;
constexpr std::string_view slack_body =
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain="
    "testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&"
    "user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url="
    "https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%"
    "2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121."
    "803a0bc887a14d10d2c447fce8b6703c";
constexpr std::string_view slack_signature =
    "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

fake_request slack_request() {
  fake_request req;
  req.body = std::string{slack_body};
  req.now = slack_ts;
  req.set("X-Slack-Signature", std::string{slack_signature})
      .set("X-Slack-Request-Timestamp", std::to_string(slack_ts));
  return req;
}

// The Standard Webhooks specification's example (standard-webhooks/spec).
constexpr std::string_view sw_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view sw_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr int64_t sw_ts = 1614265330;
constexpr std::string_view sw_body = R"({"test": 2432232314})";
constexpr std::string_view sw_signature =
    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fake_request sw_request() {
  fake_request req;
  req.body = std::string{sw_body};
  req.now = sw_ts;
  req.set("webhook-id", std::string{sw_id})
      .set("webhook-timestamp", std::to_string(sw_ts))
      .set("webhook-signature", std::string{sw_signature});
  return req;
}

// Generic HMAC over R"({"hello":"world"})" with secret "generic-secret".
constexpr std::string_view generic_body = R"({"hello":"world"})";
constexpr std::string_view generic_sha256_hex =
    "9858e8fea916b4f991c984891b199af820f78dd387b5c596a48934a46b5d279a";
constexpr std::string_view generic_sha1_hex =
    "d13b163398f3ce4036675bf9e258b3fc86da67e4";
constexpr std::string_view generic_sha512_b64 =
    "9EJFVQ8SLTZudZnc4jiF/+IywzAqSGuoZcnuMi64VTTvxYeTOwCfP8fITuMj7Yk8NG8fG6JNTg"
    "KHtqHV/cTK+Q==";

} // namespace

TEST_CASE("webhook: hex and base64 codecs round-trip and reject malformed text",
          "[runtime][webhook]") {
  auto bytes = all_bytes();
  CHECK(hex_decode(hex_encode(bytes)) == bytes);
  CHECK(base64_decode(base64_encode(bytes)) == bytes);
  CHECK(hex_encode("\x01\xab") == "01ab");
  CHECK(hex_decode("01AB") == std::string{"\x01\xab"});
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_decode("Zg==") == std::string{"f"});
  CHECK(base64_decode("Zg") == std::string{"f"});
  CHECK(base64_decode("Zm8") == std::string{"fo"});
  CHECK(base64_decode("") == std::string{});
  SECTION("malformed hex") {
    CHECK_FALSE(hex_decode("abc"));
    CHECK_FALSE(hex_decode("zz"));
    CHECK_FALSE(hex_decode("0x"));
  }
  SECTION("malformed base64") {
    CHECK_FALSE(base64_decode("Zg="));
    CHECK_FALSE(base64_decode("Z==="));
    CHECK_FALSE(base64_decode("===="));
    CHECK_FALSE(base64_decode("Z"));
    CHECK_FALSE(base64_decode("Zm9v!"));
    CHECK_FALSE(base64_decode("Zm 9v"));
    CHECK_FALSE(base64_decode("-_-_"));
    CHECK_FALSE(base64_decode("Zg==Zg=="));
  }
}

TEST_CASE("webhook: hmac matches reference values", "[runtime][webhook]") {
  CHECK(hex_encode(hmac(digest::sha256, github_secret, {"Hello, ", "World!"}))
        == github_signature.substr(7));
  CHECK(hex_encode(hmac(digest::sha256, "", {"abc"}))
        == "fd7adb152c05ef80dccf50a1fa4c05d5a3ec6da95575fc312ae7c5d091836351");
  CHECK(hex_encode(hmac(digest::sha256, "k", {}))
        == "8bb990c40a7d61cb97597a942125025be50ac8beb74436e3735b98893a7f6620");
  CHECK(hex_encode(hmac(digest::sha1, "generic-secret", {generic_body}))
        == generic_sha1_hex);
  CHECK(base64_encode(hmac(digest::sha512, "generic-secret", {generic_body}))
        == generic_sha512_b64);
  CHECK(digest_size(digest::sha1) == 20);
  CHECK(digest_size(digest::sha512) == 64);
  CHECK(parse_digest("sha512") == digest::sha512);
  CHECK_FALSE(parse_digest("md5"));
}

TEST_CASE("webhook: constant-time comparisons", "[runtime][webhook]") {
  CHECK(equal_digests("abc", "abc"));
  CHECK_FALSE(equal_digests("abc", "abd"));
  CHECK_FALSE(equal_digests("abc", "ab"));
  CHECK(equal_digests("", ""));
  CHECK(equal_secrets("token", "token"));
  CHECK_FALSE(equal_secrets("token", "token2"));
  CHECK_FALSE(equal_secrets("", "token"));
}

TEST_CASE("webhook: scheme and reason names", "[runtime][webhook]") {
  for (auto k : {scheme::github, scheme::forgejo, scheme::gitea, scheme::gitlab,
                 scheme::stripe, scheme::slack, scheme::standard_webhooks,
                 scheme::hmac, scheme::token, scheme::none})
    CHECK(parse_scheme(to_string(k)) == k);
  CHECK(parse_scheme("standard-webhooks") == scheme::standard_webhooks);
  CHECK(to_string(scheme::standard_webhooks) == "standard_webhooks");
  CHECK_FALSE(parse_scheme("GitHub"));
  CHECK_FALSE(parse_scheme(""));
  CHECK(to_string(reject_reason::stale_timestamp) == "stale_timestamp");
  CHECK(to_string(reject_reason::missing_signature) == "missing_signature");
  CHECK(to_string(reject_reason::malformed_timestamp) == "malformed_timestamp");
}

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

TEST_CASE("webhook: stripe verifies Stripe-Signature with a tolerance",
          "[runtime][webhook]") {
  auto cfg = config(scheme::stripe, {"whsec_stripe_test"});
  auto good = "t=" + std::to_string(stripe_t) + ",v1=" + std::string{stripe_v1};
  auto req = stripe_request(good);
  SECTION("a correct signature is accepted; type and id come from the body") {
    auto info = accepted(cfg, req);
    CHECK(info.provider == "stripe");
    CHECK(info.event_type == "payment_intent.succeeded");
    CHECK(info.delivery_id == "evt_1NG8Du2eZvKYlo2CUI79vXWy");
  }
  SECTION("any v1 may match; v0 and unknown entries are ignored") {
    req.set("Stripe-Signature",
            "t=" + std::to_string(stripe_t) + ",v1=" + std::string(64, 'a')
                + ", v1=" + std::string{stripe_v1} + ",v0=zz,foo,x=y");
    accepted(cfg, req);
  }
  SECTION("rotation") {
    cfg.secrets = {"whsec_new", "whsec_stripe_test"};
    accepted(cfg, req);
  }
  SECTION("the tolerance bounds the timestamp in both directions") {
    req.now = stripe_t + 300;
    accepted(cfg, req);
    req.now = stripe_t - 300;
    accepted(cfg, req);
    req.now = stripe_t + 301;
    CHECK(rejection(cfg, req) == reject_reason::stale_timestamp);
    req.now = stripe_t - 301;
    CHECK(rejection(cfg, req) == reject_reason::stale_timestamp);
    cfg.tolerance = std::chrono::seconds{3600};
    accepted(cfg, req);
  }
  SECTION("a tampered body or timestamp is bad_signature") {
    req.body += "\n";
    CHECK(rejection(cfg, req) == reject_reason::bad_signature);
    req = stripe_request("t=" + std::to_string(stripe_t + 1)
                         + ",v1=" + std::string{stripe_v1});
    CHECK(rejection(cfg, req) == reject_reason::bad_signature);
  }
  SECTION("a wrong secret is bad_signature") {
    cfg.secrets = {"whsec_other"};
    CHECK(rejection(cfg, req) == reject_reason::bad_signature);
  }
  SECTION("missing and malformed parts") {
    req.erase("Stripe-Signature");
    CHECK(rejection(cfg, req) == reject_reason::missing_signature);
    req.set("Stripe-Signature", "v1=" + std::string{stripe_v1});
    CHECK(rejection(cfg, req) == reject_reason::missing_timestamp);
    req.set("Stripe-Signature", "t=abc,v1=" + std::string{stripe_v1});
    CHECK(rejection(cfg, req) == reject_reason::malformed_timestamp);
    req.set("Stripe-Signature", "t=-5,v1=" + std::string{stripe_v1});
    CHECK(rejection(cfg, req) == reject_reason::malformed_timestamp);
    req.set("Stripe-Signature",
            "t=99999999999999999999,v1=" + std::string{stripe_v1});
    CHECK(rejection(cfg, req) == reject_reason::malformed_timestamp);
    req.set("Stripe-Signature", "t=" + std::to_string(stripe_t));
    CHECK(rejection(cfg, req) == reject_reason::malformed_signature);
    req.set("Stripe-Signature", "t=" + std::to_string(stripe_t) + ",v1=xyz");
    CHECK(rejection(cfg, req) == reject_reason::malformed_signature);
    req.set("Stripe-Signature", ",,,=,");
    CHECK(rejection(cfg, req) == reject_reason::missing_timestamp);
  }
  SECTION("timestamps far from now cannot overflow the tolerance check") {
    std::string t = "9223372036854775807";
    auto sig = hex_encode(
        hmac(digest::sha256, "whsec_stripe_test", {t, ".", stripe_body}));
    req.set("Stripe-Signature", "t=" + t + ",v1=" + sig);
    req.now = -9223372036854775807 - 1;
    CHECK(rejection(cfg, req) == reject_reason::stale_timestamp);
    req.now = 9223372036854775807;
    accepted(cfg, req);
  }
}

TEST_CASE("webhook: slack verifies X-Slack-Signature with a tolerance",
          "[runtime][webhook]") {
  auto cfg = config(scheme::slack, {std::string{slack_secret}});
  auto req = slack_request();
  SECTION("Slack's published example is accepted") {
    auto info = accepted(cfg, req);
    CHECK(info.provider == "slack");
    CHECK(info.event_type.empty()); // a form-encoded slash command
    CHECK(info.delivery_id.empty());
  }
  SECTION("an Events API body gives event.type and event_id") {
    req.body =
        R"({"token":"x","team_id":"T1","event":{"type":"app_mention",)"
        R"("text":"hi"},"type":"event_callback","event_id":"Ev08MFMKH6"})";
    req.now = 1700000000;
    req.set("X-Slack-Request-Timestamp", "1700000000");
    req.set("X-Slack-Signature", "v0=f2ffbedb3b752088e57e4549293eb7d79d9bfaac5d"
                                 "009886ab1c132955f6191d");
    cfg.secrets = {"slack-signing-secret"};
    auto info = accepted(cfg, req);
    CHECK(info.event_type == "app_mention");
    CHECK(info.delivery_id == "Ev08MFMKH6");
  }
  SECTION("rotation") {
    cfg.secrets = {"previous", std::string{slack_secret}};
    accepted(cfg, req);
  }
  SECTION("stale timestamps are rejected") {
    req.now = slack_ts + 301;
    CHECK(rejection(cfg, req) == reject_reason::stale_timestamp);
    req.now = slack_ts - 301;
    CHECK(rejection(cfg, req) == reject_reason::stale_timestamp);
    cfg.tolerance = std::chrono::seconds{301};
    accepted(cfg, req);
  }
  SECTION("tampering is bad_signature") {
    req.body.back() = 'd';
    CHECK(rejection(cfg, req) == reject_reason::bad_signature);
    req = slack_request();
    req.set("X-Slack-Request-Timestamp", std::to_string(slack_ts + 1));
    CHECK(rejection(cfg, req) == reject_reason::bad_signature);
  }
  SECTION("missing and malformed headers") {
    req.erase("X-Slack-Request-Timestamp");
    CHECK(rejection(cfg, req) == reject_reason::missing_timestamp);
    req.set("X-Slack-Request-Timestamp", "12:00");
    CHECK(rejection(cfg, req) == reject_reason::malformed_timestamp);
    req = slack_request();
    req.erase("X-Slack-Signature");
    CHECK(rejection(cfg, req) == reject_reason::missing_signature);
    req.set("X-Slack-Signature", std::string{slack_signature.substr(3)});
    CHECK(rejection(cfg, req) == reject_reason::malformed_signature);
    req.set("X-Slack-Signature",
            "v1=" + std::string{slack_signature.substr(3)});
    CHECK(rejection(cfg, req) == reject_reason::malformed_signature);
    req.set("X-Slack-Signature", "v0=" + std::string(64, 'q'));
    CHECK(rejection(cfg, req) == reject_reason::malformed_signature);
  }
}

TEST_CASE("webhook: standard webhooks verify webhook-signature",
          "[runtime][webhook]") {
  auto cfg = config(scheme::standard_webhooks, {std::string{sw_secret}});
  auto req = sw_request();
  SECTION("the specification's example is accepted") {
    auto info = accepted(cfg, req);
    CHECK(info.provider == "standard_webhooks");
    CHECK(info.delivery_id == sw_id);
    CHECK(info.event_type.empty()); // the example body has no "type"
  }
  SECTION("the event type comes from the body's type") {
    // webhook_sign.standard_webhooks_headers(sw_secret, body, sw_id, sw_ts)
    req.body = R"({"type":"user.created","timestamp":"2021-02-21T17:02:10Z",)"
               R"("data":{"id":"u1"}})";
    req.set("webhook-signature",
            "v1,2jpt/Kmggl22F+VyjNW44SHjcf1hFpRi92hx8BL81XY=");
    auto info = accepted(cfg, req);
    CHECK(info.event_type == "user.created");
    CHECK(info.delivery_id == sw_id);
  }
  SECTION("the secret works without its whsec_ prefix") {
    cfg.secrets = {std::string{sw_secret.substr(6)}};
    accepted(cfg, req);
  }
  SECTION("any v1 entry may match; other versions are skipped") {
    req.set("webhook-signature", "v1a,AAAA v1,"
                                     + base64_encode(std::string(32, 'x'))
                                     + " v1,%%% " + std::string{sw_signature});
    accepted(cfg, req);
  }
  SECTION("rotation") {
    cfg.secrets = {"whsec_" + base64_encode("old key"), std::string{sw_secret}};
    accepted(cfg, req);
  }
  SECTION("stale timestamps are rejected") {
    req.now = sw_ts + 301;
    CHECK(rejection(cfg, req) == reject_reason::stale_timestamp);
    req.now = sw_ts - 301;
    CHECK(rejection(cfg, req) == reject_reason::stale_timestamp);
  }
  SECTION("tampered body, id or timestamp is bad_signature") {
    req.body = R"({"test": 2432232315})";
    CHECK(rejection(cfg, req) == reject_reason::bad_signature);
    req = sw_request();
    req.set("webhook-id", "msg_other");
    CHECK(rejection(cfg, req) == reject_reason::bad_signature);
    req = sw_request();
    req.set("webhook-timestamp", std::to_string(sw_ts + 1));
    CHECK(rejection(cfg, req) == reject_reason::bad_signature);
  }
  SECTION("a wrong secret is bad_signature") {
    cfg.secrets = {"whsec_" + base64_encode("another key")};
    CHECK(rejection(cfg, req) == reject_reason::bad_signature);
  }
  SECTION("missing and malformed headers") {
    req.erase("webhook-id");
    CHECK(rejection(cfg, req) == reject_reason::missing_signature);
    req = sw_request();
    req.erase("webhook-signature");
    CHECK(rejection(cfg, req) == reject_reason::missing_signature);
    req = sw_request();
    req.erase("webhook-timestamp");
    CHECK(rejection(cfg, req) == reject_reason::missing_timestamp);
    req.set("webhook-timestamp", "1614265330.5");
    CHECK(rejection(cfg, req) == reject_reason::malformed_timestamp);
    req = sw_request();
    for (auto bad : {"v1,***", "v1,",
                     "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "v1,Zm9v",
                     "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}) {
      INFO(bad);
      req.set("webhook-signature", bad);
      CHECK(rejection(cfg, req) == reject_reason::malformed_signature);
    }
  }
}

TEST_CASE("webhook: generic hmac follows the configured header, digest and "
          "encoding",
          "[runtime][webhook]") {
  auto cfg = config(scheme::hmac, {"generic-secret"});
  cfg.header = "X-Signature";
  fake_request req;
  req.body = std::string{generic_body};
  req.set("X-Signature", std::string{generic_sha256_hex});
  SECTION("sha256 hex (the defaults)") {
    auto info = accepted(cfg, req);
    CHECK(info.provider == "hmac");
    CHECK(info.event_type.empty());
  }
  SECTION("sha1 hex") {
    cfg.algorithm = "sha1";
    req.set("X-Signature", std::string{generic_sha1_hex});
    accepted(cfg, req);
    req.set("X-Signature", std::string{generic_sha256_hex});
    CHECK(rejection(cfg, req) == reject_reason::malformed_signature);
  }
  SECTION("sha512 base64 with a prefix") {
    cfg.algorithm = "sha512";
    cfg.encoding = "base64";
    cfg.prefix = "sha512=";
    cfg.header = "X-Hook-Sig";
    req.set("X-Hook-Sig", "sha512=" + std::string{generic_sha512_b64});
    accepted(cfg, req);
    req.set("X-Hook-Sig", std::string{generic_sha512_b64});
    CHECK(rejection(cfg, req) == reject_reason::malformed_signature);
    req.set("X-Hook-Sig", "sha512=" + std::string(86, '!'));
    CHECK(rejection(cfg, req) == reject_reason::malformed_signature);
    req.set("X-Hook-Sig", "sha512=" + base64_encode(std::string(64, 'z')));
    CHECK(rejection(cfg, req) == reject_reason::bad_signature);
  }
  SECTION("rotation") {
    cfg.secrets = {"other", "generic-secret"};
    accepted(cfg, req);
  }
  SECTION("rejections") {
    req.body = R"({"hello":"World"})";
    CHECK(rejection(cfg, req) == reject_reason::bad_signature);
    req.erase("X-Signature");
    CHECK(rejection(cfg, req) == reject_reason::missing_signature);
    req.set("X-Signature", "not hex at all");
    CHECK(rejection(cfg, req) == reject_reason::malformed_signature);
  }
}

TEST_CASE("webhook: token compares a bearer token or a named header",
          "[runtime][webhook]") {
  auto cfg = config(scheme::token, {"tok-123"});
  fake_request req;
  req.body = "anything";
  req.set("Authorization", "Bearer tok-123");
  SECTION("Authorization: Bearer is the default") {
    CHECK(accepted(cfg, req).provider == "token");
    req.set("Authorization", "bearer   tok-123");
    accepted(cfg, req);
    cfg.header = "authorization";
    accepted(cfg, req);
  }
  SECTION("rotation") {
    cfg.secrets = {"tok-old", "tok-123"};
    accepted(cfg, req);
  }
  SECTION("a wrong token is bad_signature") {
    req.set("Authorization", "Bearer tok-124");
    CHECK(rejection(cfg, req) == reject_reason::bad_signature);
  }
  SECTION("another auth scheme or an empty token is malformed_signature") {
    req.set("Authorization", "Basic dG9rLTEyMw==");
    CHECK(rejection(cfg, req) == reject_reason::malformed_signature);
    req.set("Authorization", "Bearer ");
    CHECK(rejection(cfg, req) == reject_reason::malformed_signature);
    req.set("Authorization", "tok-123");
    CHECK(rejection(cfg, req) == reject_reason::malformed_signature);
  }
  SECTION("a missing header is missing_signature") {
    req.erase("Authorization");
    CHECK(rejection(cfg, req) == reject_reason::missing_signature);
  }
  SECTION("a named header holds the whole token") {
    cfg.header = "X-Hook-Token";
    CHECK(rejection(cfg, req) == reject_reason::missing_signature);
    req.set("x-hook-token", "tok-123");
    accepted(cfg, req);
    req.set("x-hook-token", "Bearer tok-123");
    CHECK(rejection(cfg, req) == reject_reason::bad_signature);
  }
}

TEST_CASE("webhook: none accepts every request", "[runtime][webhook]") {
  verify_config cfg;
  fake_request req;
  req.body = "\xff\xfe";
  auto info = accepted(cfg, req);
  CHECK(info.provider == "none");
  request_view no_headers;
  CHECK(verify(cfg, no_headers).ok);
}

TEST_CASE("webhook: a request without a header callback is rejected, not "
          "crashed",
          "[runtime][webhook]") {
  request_view empty;
  auto r = verify(config(scheme::github, {"s"}), empty);
  CHECK_FALSE(r.ok);
  CHECK(r.reason == reject_reason::missing_signature);
}

TEST_CASE("webhook: validate names the wrong field", "[runtime][webhook]") {
  auto problem = [](const verify_config& cfg) {
    auto p = validate(cfg);
    REQUIRE(p);
    return *p;
  };
  verify_config ok_none;
  CHECK_FALSE(validate(ok_none));
  CHECK_FALSE(validate(config(scheme::github, {"s"})));
  CHECK_FALSE(
      validate(config(scheme::standard_webhooks, {std::string{sw_secret}})));

  CHECK(problem(config(scheme::github, {}))
        == "secrets: scheme github needs at least one secret");
  CHECK(problem(config(scheme::gitlab, {"a", ""})) == "secrets[1]: is empty");
  CHECK(
      problem(config(scheme::none, {"s"})).starts_with("secrets: scheme none"));
  CHECK(problem(config(scheme::standard_webhooks, {"whsec_***"}))
            .starts_with("secrets[0]: a Standard Webhooks secret"));
  CHECK(problem(config(scheme::standard_webhooks, {"whsec_"}))
            .starts_with("secrets[0]:"));

  auto stripe = config(scheme::stripe, {"s"});
  stripe.tolerance = std::chrono::seconds{0};
  CHECK(problem(stripe) == "tolerance: must be at least 1s for scheme stripe");

  auto hmac_cfg = config(scheme::hmac, {"s"});
  CHECK(problem(hmac_cfg)
        == "header: scheme hmac needs the name of the signature header");
  hmac_cfg.header = "X Sig";
  CHECK(problem(hmac_cfg) == "header: \"X Sig\" is not a valid header name");
  hmac_cfg.header = "X-Sig";
  hmac_cfg.algorithm = "md5";
  CHECK(problem(hmac_cfg)
        == "algorithm: \"md5\" is not one of sha1, sha256, sha512");
  hmac_cfg.algorithm = "sha512";
  hmac_cfg.encoding = "base32";
  CHECK(problem(hmac_cfg) == "encoding: \"base32\" is not one of hex, base64");
  hmac_cfg.encoding = "base64";
  CHECK_FALSE(validate(hmac_cfg));

  auto github = config(scheme::github, {"s"});
  github.header = "X-Sig";
  CHECK(problem(github)
        == "header: only schemes hmac and token use it, not "
           "github");
  github.header.clear();
  github.prefix = "sha256=";
  CHECK(problem(github) == "prefix: only scheme hmac uses it, not github");
  github.prefix.clear();
  github.algorithm = "sha1";
  CHECK(problem(github) == "algorithm: only scheme hmac uses it, not github");

  auto token = config(scheme::token, {"s"});
  token.header = "Bad:Header";
  CHECK(problem(token).starts_with("header: \"Bad:Header\""));

  SECTION("verify refuses an invalid config") {
    fake_request req = github_request();
    auto r = verify(config(scheme::github, {}), req.view());
    CHECK_FALSE(r.ok);
    CHECK(r.reason == reject_reason::invalid_config);
    CHECK(r.detail == "secrets: scheme github needs at least one secret");
  }
}

TEST_CASE("webhook: rejection details never echo secrets or signatures",
          "[runtime][webhook]") {
  auto cfg = config(scheme::github, {"super-secret-value"});
  auto req = github_request();
  auto r = verify(cfg, req.view());
  REQUIRE_FALSE(r.ok);
  CHECK(r.detail.find("super-secret-value") == std::string::npos);
  CHECK(r.detail.find(github_signature.substr(7)) == std::string::npos);
  auto token = config(scheme::token, {"tok-123"});
  fake_request treq;
  treq.set("Authorization", "Bearer wrong-token");
  auto tr = verify(token, treq.view());
  REQUIRE_FALSE(tr.ok);
  CHECK(tr.detail.find("tok-123") == std::string::npos);
  CHECK(tr.detail.find("wrong-token") == std::string::npos);
}

TEST_CASE("webhook: garbled headers are rejected, never crash",
          "[runtime][webhook]") {
  std::mt19937 rng{20240501};
  auto random_text = [&](size_t max_len) {
    std::uniform_int_distribution<size_t> len{0, max_len};
    std::uniform_int_distribution<int> byte{0, 255};
    std::string s(len(rng), '\0');
    for (auto& c : s)
      c = static_cast<char>(byte(rng));
    return s;
  };
  // Mostly printable noise around the characters the parsers split on.
  auto noisy_text = [&](size_t max_len) {
    constexpr std::string_view alphabet = "t=v1v0,. 0123456789abcdefABCDEF+/=_";
    std::uniform_int_distribution<size_t> len{0, max_len};
    std::uniform_int_distribution<size_t> pick{0, alphabet.size() - 1};
    std::string s(len(rng), '\0');
    for (auto& c : s)
      c = alphabet[pick(rng)];
    return s;
  };
  const std::vector<std::pair<scheme, std::vector<std::string>>> setups{
      {scheme::github, {"X-Hub-Signature-256"}},
      {scheme::forgejo, {"X-Forgejo-Signature", "X-Gitea-Signature"}},
      {scheme::gitea, {"X-Gitea-Signature"}},
      {scheme::gitlab, {"X-Gitlab-Token"}},
      {scheme::stripe, {"Stripe-Signature"}},
      {scheme::slack, {"X-Slack-Signature", "X-Slack-Request-Timestamp"}},
      {scheme::standard_webhooks,
       {"webhook-id", "webhook-timestamp", "webhook-signature"}},
      {scheme::hmac, {"X-Signature"}},
      {scheme::token, {"Authorization"}},
  };
  for (const auto& [kind, names] : setups) {
    auto cfg = config(kind, {kind == scheme::standard_webhooks
                                 ? std::string{sw_secret}
                                 : std::string{"secret"}});
    if (kind == scheme::hmac)
      cfg.header = "X-Signature";
    for (int i = 0; i < 300; ++i) {
      fake_request req;
      req.body = random_text(64);
      req.now = static_cast<int64_t>(rng());
      for (const auto& name : names)
        req.set(name, i % 2 == 0 ? random_text(96) : noisy_text(96));
      auto r = verify(cfg, req.view());
      INFO(to_string(kind) << " #" << i);
      CHECK_FALSE(r.ok);
      CHECK(r.reason != reject_reason::invalid_config);
    }
  }
}
