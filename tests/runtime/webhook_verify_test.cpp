// Tests the webhook crypto helpers (codecs, HMAC, constant-time comparisons),
// scheme and reason names, config validation, and that malformed or garbled
// requests are rejected without leaking secrets or crashing. The schemes
// themselves are in webhook_verify_forge_test.cpp and
// webhook_verify_service_test.cpp.
#include "runtime/webhook/crypto.hpp"
#include "runtime/webhook/verify.hpp"

#include "tests/runtime/webhook_verify_test_support.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <utility>
#include <vector>

using namespace rouse::webhook;
using namespace rouse::webhook_verify_test;

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
