// Tests webhook verification for the timestamped schemes (Stripe, Slack,
// Standard Webhooks) and the generic ones (hmac, token, none). Expected
// signatures come from the providers' published examples or were computed
// with Python's hmac module (tests/integration/webhook_sign.py).
#include "runtime/webhook/crypto.hpp"
#include "runtime/webhook/verify.hpp"

#include "tests/runtime/webhook_verify_test_support.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <utility>

using namespace rouse::webhook;
using namespace rouse::webhook_verify_test;

namespace {

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

} // namespace

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
