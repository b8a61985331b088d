// Helpers shared by the webhook_verify_test sources: a fake request with
// case-insensitive headers, accept/reject checks, and the test vectors used by
// more than one source (GitHub's and Standard Webhooks' published examples and
// a generic HMAC computed with Python's hmac module).
#pragma once

#include "runtime/webhook/verify.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rouse::webhook_verify_test {

/// Returns whether `a` and `b` are equal ignoring ASCII case.
inline bool iequals(std::string_view a, std::string_view b) {
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

  webhook::request_view view() const {
    webhook::request_view v;
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

/// Returns a config of scheme `kind` with `secrets` and default options.
inline webhook::verify_config config(webhook::scheme kind,
                                     std::vector<std::string> secrets) {
  webhook::verify_config cfg;
  cfg.kind = kind;
  cfg.secrets = std::move(secrets);
  return cfg;
}

/// Returns the reason `req` is rejected for; fails the test if it verifies.
inline webhook::reject_reason rejection(const webhook::verify_config& cfg,
                                        const fake_request& req) {
  auto r = webhook::verify(cfg, req.view());
  INFO("detail: " << r.detail);
  REQUIRE_FALSE(r.ok);
  CHECK_FALSE(r.detail.empty());
  return r.reason;
}

/// Returns what `req` verifies as; fails the test if it is rejected.
inline webhook::verified accepted(const webhook::verify_config& cfg,
                                  const fake_request& req) {
  auto r = webhook::verify(cfg, req.view());
  INFO("reason: " << webhook::to_string(r.reason) << ", detail: " << r.detail);
  REQUIRE(r.ok);
  return r.info;
}

/// Returns the 256 byte values in order.
inline std::string all_bytes() {
  std::string s;
  for (int i = 0; i < 256; ++i)
    s += static_cast<char>(i);
  return s;
}

// GitHub's documented example (docs.github.com, "Validating webhook
// deliveries").
inline constexpr std::string_view github_secret = "It's a Secret to Everybody";
inline constexpr std::string_view github_signature =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

/// Returns GitHub's example request: a push with its signature.
inline fake_request github_request() {
  fake_request req;
  req.body = "Hello, World!";
  req.set("X-Hub-Signature-256", std::string{github_signature})
      .set("X-GitHub-Event", "push")
      .set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958");
  return req;
}

// The Standard Webhooks specification's example (standard-webhooks/spec).
inline constexpr std::string_view sw_secret =
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
inline constexpr std::string_view sw_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
inline constexpr int64_t sw_ts = 1614265330;
inline constexpr std::string_view sw_body = R"({"test": 2432232314})";
inline constexpr std::string_view sw_signature =
    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

/// Returns the specification's example request.
inline fake_request sw_request() {
  fake_request req;
  req.body = std::string{sw_body};
  req.now = sw_ts;
  req.set("webhook-id", std::string{sw_id})
      .set("webhook-timestamp", std::to_string(sw_ts))
      .set("webhook-signature", std::string{sw_signature});
  return req;
}

// Generic HMAC over R"({"hello":"world"})" with secret "generic-secret".
inline constexpr std::string_view generic_body = R"({"hello":"world"})";
inline constexpr std::string_view generic_sha256_hex =
    "9858e8fea916b4f991c984891b199af820f78dd387b5c596a48934a46b5d279a";
inline constexpr std::string_view generic_sha1_hex =
    "d13b163398f3ce4036675bf9e258b3fc86da67e4";
inline constexpr std::string_view generic_sha512_b64 =
    "9EJFVQ8SLTZudZnc4jiF/+IywzAqSGuoZcnuMi64VTTvxYeTOwCfP8fITuMj7Yk8NG8fG6JNTg"
    "KHtqHV/cTK+Q==";

} // namespace rouse::webhook_verify_test
