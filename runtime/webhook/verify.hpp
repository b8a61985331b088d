// Verification of incoming webhook requests: one function per provider scheme
// (GitHub, Forgejo, Gitea, GitLab, Stripe, Slack, Standard Webhooks, generic
// HMAC, shared token), selected by a verify_config. No I/O and no actors; the
// webhook source calls verify() with a view of the request it received.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rouse::webhook {

/// How a webhook source proves that a request comes from its provider.
enum class scheme : uint8_t {
  /// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`.
  github,
  /// `X-Forgejo-Signature` (else `X-Gitea-Signature`): hex HMAC-SHA256.
  forgejo,
  /// `X-Gitea-Signature`: hex HMAC-SHA256 of the body.
  gitea,
  /// `X-Gitlab-Token` equal to a secret.
  gitlab,
  /// `Stripe-Signature: t=<unix>,v1=<hex>...` over "{t}.{body}", timestamped.
  stripe,
  /// `X-Slack-Signature: v0=<hex>` over "v0:{ts}:{body}", timestamped.
  slack,
  /// `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> ...`
  /// over "{id}.{timestamp}.{body}" (standardwebhooks.com), timestamped.
  standard_webhooks,
  /// One configurable header holding an HMAC of the body.
  hmac,
  /// `Authorization: Bearer <secret>` or a named header equal to a secret.
  token,
  /// Accepts everything. The caller restricts it to loopback listeners.
  none,
};

/// Returns the config name of `x`: "github", "forgejo", "gitea", "gitlab",
/// "stripe", "slack", "standard_webhooks", "hmac", "token", "none".
std::string_view to_string(scheme x) noexcept;

/// Returns the scheme named `name` (as to_string writes it; "standard-webhooks"
/// is accepted as well), or nullopt.
std::optional<scheme> parse_scheme(std::string_view name) noexcept;

/// The verification settings of one webhook source. Plain data; validate()
/// says whether a combination makes sense.
struct verify_config {
  /// The scheme. Default none, which accepts every request.
  scheme kind = scheme::none;

  /// The shared secrets (raw bytes, already resolved from env:/file:). A
  /// request verifies if it matches any of them, so a secret is rotated by
  /// adding the new one, switching the provider over, then removing the old
  /// one. Every scheme except none needs at least one; none takes none. For
  /// standard_webhooks each is the base64 key, with or without a "whsec_"
  /// prefix. Each extra secret costs one more HMAC per rejected request.
  std::vector<std::string> secrets;

  /// How far a request's signed timestamp may be from now, in either
  /// direction, for stripe, slack and standard_webhooks. Default 300 s (what
  /// the providers recommend); must be at least 1 s. Longer tolerates more
  /// clock skew and provider retry delay, but widens the window in which a
  /// captured request can be replayed.
  std::chrono::seconds tolerance{300};

  /// hmac: the header carrying the signature (required, e.g.
  /// "X-Signature"). token: the header whose whole value is the secret; empty
  /// (the default) or "Authorization" means `Authorization: Bearer <secret>`.
  /// Not used by other schemes. Names are matched case-insensitively.
  std::string header;

  /// hmac only: the HMAC digest, "sha1", "sha256" (default) or "sha512".
  /// Prefer sha256; sha1 exists only for senders that offer nothing else.
  std::string algorithm = "sha256";

  /// hmac only: how the header writes the digest, "hex" (default, either
  /// case) or "base64" (standard alphabet, padding optional).
  std::string encoding = "hex";

  /// hmac only: text the header value starts with before the digest, e.g.
  /// "sha256=". Default empty. A value without it is malformed_signature.
  std::string prefix;
};

/// Returns a message naming the first field of `cfg` that is wrong (e.g.
/// `secrets: scheme github needs at least one secret`), or nullopt if `cfg` is
/// usable. The message never contains a secret.
std::optional<std::string> validate(const verify_config& cfg);

/// A request as the verifier sees it. Only borrowed views: it must not outlive
/// the request it describes.
struct request_view {
  /// Returns the value of the header `name` (matched case-insensitively, the
  /// caller's job), or nullopt if absent. For a repeated header, the first.
  std::function<std::optional<std::string_view>(std::string_view name)> header;
  /// The raw body exactly as received (may be binary; never re-encoded).
  std::string_view body;
  /// The current time in seconds since the Unix epoch, for timestamp checks.
  int64_t now_unix_s = 0;
};

/// Why verify() rejected a request. Each value says when it happens.
enum class reject_reason : uint8_t {
  /// A header the scheme needs (the signature or token, and for
  /// standard_webhooks the `webhook-id` that is signed) is absent or empty.
  missing_signature = 1,
  /// The signature header is present but cannot be parsed: bad hex or base64,
  /// wrong digest length, missing prefix or version tag, no usable entry.
  malformed_signature,
  /// The signature (or token) is well-formed but matches none of the secrets.
  bad_signature,
  /// A timestamped scheme's timestamp (Stripe's `t=`, Slack's
  /// `X-Slack-Request-Timestamp`, `webhook-timestamp`) is absent.
  missing_timestamp,
  /// The timestamp is present but not a non-negative decimal integer.
  malformed_timestamp,
  /// The signature is valid but its timestamp is further than the tolerance
  /// from now: a replay, a delayed retry or a skewed clock.
  stale_timestamp,
  /// The verify_config is not usable (validate() returns a message); nothing
  /// was checked.
  invalid_config,
};

/// Returns the name of `x`, e.g. "stale_timestamp".
std::string_view to_string(reject_reason x) noexcept;

/// What a verified request says about itself. Fields the scheme does not carry
/// are empty.
struct verified {
  /// The scheme's name as to_string(scheme) writes it, e.g. "github".
  std::string provider;
  /// The provider's event type: X-GitHub-Event, X-Forgejo-Event (else
  /// X-Gitea-Event), X-Gitea-Event, X-Gitlab-Event; for stripe and
  /// standard-webhooks the body's `type`; for slack the body's `event.type`,
  /// else `type`. Body fields are read only from a JSON object body.
  std::string event_type;
  /// The provider's delivery id: X-GitHub-Delivery, X-Forgejo-Delivery (else
  /// X-Gitea-Delivery), X-Gitea-Delivery, GitLab's Idempotency-Key (else
  /// X-Gitlab-Event-UUID), `webhook-id`; for stripe the body's `id`, for slack
  /// the body's `event_id`. Stable across the provider's retries, so it is the
  /// dedup key.
  std::string delivery_id;
};

/// The outcome of verify(). Rejections carry a reason and a detail for logs.
struct verify_result {
  /// True if the request is authentic (or the scheme is none).
  bool ok = false;
  /// Why the request was rejected; meaningful only when !ok.
  reject_reason reason = reject_reason::missing_signature;
  /// Human-readable specifics for logs, e.g. "no X-Hub-Signature-256 header".
  /// Never contains a secret, a signature or other request content.
  std::string detail;
  /// What the request says about itself; filled only when ok.
  verified info;

  explicit operator bool() const noexcept { return ok; }
};

/// Checks `req` against `cfg`. Every signature and token comparison is
/// constant-time; malformed input is a rejection, never a crash. For
/// timestamped schemes the signature is checked first, so stale_timestamp
/// means an authentic request outside the tolerance. Thread-safe (no shared
/// state).
verify_result verify(const verify_config& cfg, const request_view& req);

} // namespace rouse::webhook
