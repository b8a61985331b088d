// Implements verify() for each scheme and validate() for configs. Every
// comparison of request content with a secret or a digest goes through
// equal_digests / equal_secrets (constant-time); the HMACs come from
// crypto.hpp.
#include "runtime/webhook/verify.hpp"

#include "runtime/webhook/crypto.hpp"

#include <simdjson.h>

#include <charconv>

namespace rouse::webhook {

namespace {

constexpr std::string_view whsec_prefix = "whsec_";

char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i]))
      return false;
  return true;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

/// Returns true if `name` is an HTTP field name (an RFC 9110 token).
bool is_header_name(std::string_view name) noexcept {
  if (name.empty())
    return false;
  constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || extra.find(c) != extra.npos;
    if (!ok)
      return false;
  }
  return true;
}

bool uses_timestamp(scheme k) noexcept {
  return k == scheme::stripe || k == scheme::slack
         || k == scheme::standard_webhooks;
}

/// Returns the HMAC key of a Standard Webhooks secret: base64 after an
/// optional "whsec_" prefix.
std::optional<std::string> standard_webhooks_key(std::string_view secret) {
  if (secret.starts_with(whsec_prefix))
    secret.remove_prefix(whsec_prefix.size());
  auto key = base64_decode(secret);
  if (!key || key->empty())
    return std::nullopt;
  return key;
}

/// Returns the trimmed value of header `name`; an empty value counts as
/// absent, since no scheme can verify against it.
std::optional<std::string_view> get_header(const request_view& req,
                                           std::string_view name) {
  if (!req.header)
    return std::nullopt;
  auto value = req.header(name);
  if (!value)
    return std::nullopt;
  auto trimmed = trim(*value);
  if (trimmed.empty())
    return std::nullopt;
  return trimmed;
}

std::string header_or_empty(const request_view& req, std::string_view name) {
  auto value = get_header(req, name);
  return value ? std::string{*value} : std::string{};
}

/// Returns the first present of two headers' values, or empty.
std::string first_header(const request_view& req, std::string_view a,
                         std::string_view b) {
  auto value = get_header(req, a);
  if (!value)
    value = get_header(req, b);
  return value ? std::string{*value} : std::string{};
}

verify_result reject(reject_reason reason, std::string detail) {
  verify_result r;
  r.ok = false;
  r.reason = reason;
  r.detail = std::move(detail);
  return r;
}

verify_result accept() {
  verify_result r;
  r.ok = true;
  return r;
}

std::string in_quotes(std::string_view s) {
  std::string out = "\"";
  out.append(s);
  out += '"';
  return out;
}

std::string no_match(std::string_view what, size_t secrets) {
  return std::string{what} + " matches none of the " + std::to_string(secrets)
         + " configured secret(s)";
}

/// Parses a Unix timestamp in seconds: 1 to 19 decimal digits, no sign.
std::optional<int64_t> parse_unix_s(std::string_view text) noexcept {
  if (text.empty() || text.size() > 19)
    return std::nullopt;
  for (char c : text)
    if (c < '0' || c > '9')
      return std::nullopt;
  int64_t value = 0;
  auto [ptr, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size())
    return std::nullopt;
  return value;
}

/// Returns true if |now - t| <= tolerance, without overflow for any inputs.
bool within_tolerance(int64_t t, int64_t now,
                      std::chrono::seconds tolerance) noexcept {
  // The unsigned difference of two int64 values is exact (two's complement).
  uint64_t diff = t >= now
                      ? static_cast<uint64_t>(t) - static_cast<uint64_t>(now)
                      : static_cast<uint64_t>(now) - static_cast<uint64_t>(t);
  return tolerance.count() >= 0
         && diff <= static_cast<uint64_t>(tolerance.count());
}

/// Returns true if any of `keys` signs `parts` to one of `signatures`.
bool any_matches(digest d, const std::vector<std::string>& keys,
                 const std::vector<std::string>& signatures,
                 std::initializer_list<std::string_view> parts) {
  for (const auto& key : keys) {
    if (key.empty())
      continue;
    auto expected = hmac(d, key, parts);
    if (expected.empty())
      continue;
    for (const auto& sig : signatures)
      if (equal_digests(expected, sig))
        return true;
  }
  return false;
}

/// Decodes one digest written in `encoding` ("hex" or "base64"); nullopt if
/// malformed or of the wrong length for `d`.
std::optional<std::string> decode_digest(std::string_view text,
                                         std::string_view encoding, digest d) {
  auto bytes = encoding == "base64" ? base64_decode(text) : hex_decode(text);
  if (!bytes || bytes->size() != digest_size(d))
    return std::nullopt;
  return bytes;
}

/// The shared path of the body-only HMAC schemes (github, forgejo, gitea,
/// hmac): header -> prefix -> decode -> compare.
verify_result check_body_hmac(const verify_config& cfg, const request_view& req,
                              std::string_view header_name,
                              std::optional<std::string_view> value,
                              std::string_view prefix, digest d,
                              std::string_view encoding) {
  if (!value)
    return reject(reject_reason::missing_signature,
                  "no " + std::string{header_name} + " header");
  auto text = *value;
  if (!text.starts_with(prefix))
    return reject(reject_reason::malformed_signature,
                  std::string{header_name} + " does not start with "
                      + in_quotes(prefix));
  text.remove_prefix(prefix.size());
  auto sig = decode_digest(trim(text), encoding, d);
  if (!sig)
    return reject(reject_reason::malformed_signature,
                  std::string{header_name} + " is not a "
                      + std::string{encoding} + " digest of "
                      + std::to_string(digest_size(d)) + " bytes");
  if (!any_matches(d, cfg.secrets, {*sig}, {req.body}))
    return reject(reject_reason::bad_signature,
                  no_match(header_name, cfg.secrets.size()));
  return accept();
}

verify_result check_shared_token(const verify_config& cfg,
                                 std::string_view header_name,
                                 std::string_view token) {
  for (const auto& secret : cfg.secrets)
    if (!secret.empty() && equal_secrets(token, secret))
      return accept();
  return reject(reject_reason::bad_signature,
                no_match(header_name, cfg.secrets.size()));
}

verify_result verify_github(const verify_config& cfg, const request_view& req) {
  constexpr std::string_view name = "X-Hub-Signature-256";
  auto r = check_body_hmac(cfg, req, name, get_header(req, name),
                           "sha256=", digest::sha256, "hex");
  if (r) {
    r.info.event_type = header_or_empty(req, "X-GitHub-Event");
    r.info.delivery_id = header_or_empty(req, "X-GitHub-Delivery");
  }
  return r;
}

verify_result verify_forgejo(const verify_config& cfg,
                             const request_view& req) {
  // Forgejo sends the same signature under both names; its own name wins.
  std::string_view name = "X-Forgejo-Signature";
  auto value = get_header(req, name);
  if (!value) {
    name = "X-Gitea-Signature";
    value = get_header(req, name);
  }
  auto r = check_body_hmac(cfg, req,
                           value ? name
                                 : "X-Forgejo-Signature (or "
                                   "X-Gitea-Signature)",
                           value, "", digest::sha256, "hex");
  if (r) {
    r.info.event_type = first_header(req, "X-Forgejo-Event", "X-Gitea-Event");
    r.info.delivery_id =
        first_header(req, "X-Forgejo-Delivery", "X-Gitea-Delivery");
  }
  return r;
}

verify_result verify_gitea(const verify_config& cfg, const request_view& req) {
  constexpr std::string_view name = "X-Gitea-Signature";
  auto r = check_body_hmac(cfg, req, name, get_header(req, name), "",
                           digest::sha256, "hex");
  if (r) {
    r.info.event_type = header_or_empty(req, "X-Gitea-Event");
    r.info.delivery_id = header_or_empty(req, "X-Gitea-Delivery");
  }
  return r;
}

verify_result verify_gitlab(const verify_config& cfg, const request_view& req) {
  constexpr std::string_view name = "X-Gitlab-Token";
  auto token = get_header(req, name);
  if (!token)
    return reject(reject_reason::missing_signature,
                  "no " + std::string{name} + " header");
  auto r = check_shared_token(cfg, name, *token);
  if (r) {
    r.info.event_type = header_or_empty(req, "X-Gitlab-Event");
    // Idempotency-Key stays the same across GitLab's retries of one delivery,
    // and is unique per hook; older GitLab versions only send the event UUID.
    r.info.delivery_id =
        first_header(req, "Idempotency-Key", "X-Gitlab-Event-UUID");
  }
  return r;
}

verify_result verify_hmac(const verify_config& cfg, const request_view& req) {
  // validate() has checked the algorithm; sha256 is its default.
  auto d = parse_digest(cfg.algorithm).value_or(digest::sha256);
  return check_body_hmac(cfg, req, cfg.header, get_header(req, cfg.header),
                         cfg.prefix, d, cfg.encoding);
}

verify_result verify_token(const verify_config& cfg, const request_view& req) {
  if (!cfg.header.empty() && !iequals(cfg.header, "Authorization")) {
    auto token = get_header(req, cfg.header);
    if (!token)
      return reject(reject_reason::missing_signature,
                    "no " + cfg.header + " header");
    return check_shared_token(cfg, cfg.header, *token);
  }
  constexpr std::string_view name = "Authorization";
  auto value = get_header(req, name);
  if (!value)
    return reject(reject_reason::missing_signature, "no Authorization header");
  constexpr std::string_view bearer = "Bearer ";
  if (value->size() <= bearer.size()
      || !iequals(value->substr(0, bearer.size()), bearer))
    return reject(reject_reason::malformed_signature,
                  "Authorization is not of the form \"Bearer <token>\"");
  auto token = trim(value->substr(bearer.size()));
  if (token.empty())
    return reject(reject_reason::malformed_signature,
                  "Authorization has an empty bearer token");
  return check_shared_token(cfg, name, token);
}

/// Reads string fields from a JSON body for the schemes that keep the event
/// type and id there (stripe, slack). A body that is not a JSON object (Slack
/// slash commands are form-encoded) leaves both empty.
void read_body_info(std::string_view body, std::string_view type_key,
                    std::string_view nested_type_key, std::string_view id_key,
                    verified& info) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(body.data(), body.size()).get_object().get(obj)
      != simdjson::SUCCESS)
    return;
  auto string_at = [&](simdjson::dom::element e) {
    std::string_view s;
    return e.get_string().get(s) == simdjson::SUCCESS ? std::string{s}
                                                      : std::string{};
  };
  simdjson::dom::element e;
  if (!nested_type_key.empty()
      && obj.at_pointer(nested_type_key).get(e) == simdjson::SUCCESS)
    info.event_type = string_at(e);
  if (info.event_type.empty() && obj[type_key].get(e) == simdjson::SUCCESS)
    info.event_type = string_at(e);
  if (!id_key.empty() && obj[id_key].get(e) == simdjson::SUCCESS)
    info.delivery_id = string_at(e);
}

verify_result verify_stripe(const verify_config& cfg, const request_view& req) {
  constexpr std::string_view name = "Stripe-Signature";
  auto value = get_header(req, name);
  if (!value)
    return reject(reject_reason::missing_signature,
                  "no Stripe-Signature header");
  std::optional<std::string_view> t_text;
  std::vector<std::string> signatures;
  size_t v1_entries = 0;
  std::string_view rest = *value;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto item = trim(rest.substr(0, comma));
    rest = comma == rest.npos ? std::string_view{} : rest.substr(comma + 1);
    auto eq = item.find('=');
    if (eq == item.npos)
      continue;
    auto key = item.substr(0, eq);
    auto val = item.substr(eq + 1);
    if (key == "t" && !t_text)
      t_text = val;
    else if (key == "v1") {
      ++v1_entries;
      // An undecodable entry matches nothing; the others still count.
      if (auto sig = decode_digest(val, "hex", digest::sha256))
        signatures.push_back(std::move(*sig));
    }
  }
  if (!t_text)
    return reject(reject_reason::missing_timestamp,
                  "Stripe-Signature has no t= timestamp");
  auto t = parse_unix_s(*t_text);
  if (!t)
    return reject(reject_reason::malformed_timestamp,
                  "Stripe-Signature t= is not a Unix time in seconds");
  if (signatures.empty())
    return reject(reject_reason::malformed_signature,
                  v1_entries == 0
                      ? "Stripe-Signature has no v1= signature"
                      : "no Stripe-Signature v1= entry is 64 hex digits");
  if (!any_matches(digest::sha256, cfg.secrets, signatures,
                   {*t_text, ".", req.body}))
    return reject(reject_reason::bad_signature,
                  no_match("Stripe-Signature", cfg.secrets.size()));
  if (!within_tolerance(*t, req.now_unix_s, cfg.tolerance))
    return reject(reject_reason::stale_timestamp,
                  "Stripe-Signature t= is more than "
                      + std::to_string(cfg.tolerance.count())
                      + " s away from now");
  auto r = accept();
  read_body_info(req.body, "type", "", "id", r.info);
  return r;
}

verify_result verify_slack(const verify_config& cfg, const request_view& req) {
  auto value = get_header(req, "X-Slack-Signature");
  if (!value)
    return reject(reject_reason::missing_signature,
                  "no X-Slack-Signature header");
  auto ts_text = get_header(req, "X-Slack-Request-Timestamp");
  if (!ts_text)
    return reject(reject_reason::missing_timestamp,
                  "no X-Slack-Request-Timestamp header");
  auto ts = parse_unix_s(*ts_text);
  if (!ts)
    return reject(reject_reason::malformed_timestamp,
                  "X-Slack-Request-Timestamp is not a Unix time in seconds");
  constexpr std::string_view version = "v0=";
  if (!value->starts_with(version))
    return reject(reject_reason::malformed_signature,
                  "X-Slack-Signature does not start with \"v0=\"");
  auto sig =
      decode_digest(value->substr(version.size()), "hex", digest::sha256);
  if (!sig)
    return reject(reject_reason::malformed_signature,
                  "X-Slack-Signature is not 64 hex digits after \"v0=\"");
  if (!any_matches(digest::sha256, cfg.secrets, {*sig},
                   {"v0:", *ts_text, ":", req.body}))
    return reject(reject_reason::bad_signature,
                  no_match("X-Slack-Signature", cfg.secrets.size()));
  if (!within_tolerance(*ts, req.now_unix_s, cfg.tolerance))
    return reject(reject_reason::stale_timestamp,
                  "X-Slack-Request-Timestamp is more than "
                      + std::to_string(cfg.tolerance.count())
                      + " s away from now");
  auto r = accept();
  read_body_info(req.body, "type", "/event/type", "event_id", r.info);
  return r;
}

verify_result verify_standard_webhooks(const verify_config& cfg,
                                       const request_view& req) {
  auto value = get_header(req, "webhook-signature");
  if (!value)
    return reject(reject_reason::missing_signature,
                  "no webhook-signature header");
  auto id = get_header(req, "webhook-id");
  if (!id)
    return reject(reject_reason::missing_signature,
                  "no webhook-id header (it is part of the signed content)");
  auto ts_text = get_header(req, "webhook-timestamp");
  if (!ts_text)
    return reject(reject_reason::missing_timestamp,
                  "no webhook-timestamp header");
  auto ts = parse_unix_s(*ts_text);
  if (!ts)
    return reject(reject_reason::malformed_timestamp,
                  "webhook-timestamp is not a Unix time in seconds");
  // A space-separated list of "<version>,<signature>"; only v1 (HMAC-SHA256)
  // is symmetric, other versions (v1a: ed25519) are skipped.
  std::vector<std::string> signatures;
  size_t v1_entries = 0;
  std::string_view rest = *value;
  while (!rest.empty()) {
    auto space = rest.find(' ');
    auto item = rest.substr(0, space);
    rest = space == rest.npos ? std::string_view{} : rest.substr(space + 1);
    constexpr std::string_view v1 = "v1,";
    if (!item.starts_with(v1))
      continue;
    ++v1_entries;
    if (auto sig =
            decode_digest(item.substr(v1.size()), "base64", digest::sha256))
      signatures.push_back(std::move(*sig));
  }
  if (signatures.empty())
    return reject(reject_reason::malformed_signature,
                  v1_entries == 0 ? "webhook-signature has no v1,<base64> entry"
                                  : "no webhook-signature v1 entry is a base64 "
                                    "HMAC-SHA256");
  std::vector<std::string> keys;
  keys.reserve(cfg.secrets.size());
  for (const auto& secret : cfg.secrets)
    if (auto key = standard_webhooks_key(secret))
      keys.push_back(std::move(*key));
  if (!any_matches(digest::sha256, keys, signatures,
                   {*id, ".", *ts_text, ".", req.body}))
    return reject(reject_reason::bad_signature,
                  no_match("webhook-signature", cfg.secrets.size()));
  if (!within_tolerance(*ts, req.now_unix_s, cfg.tolerance))
    return reject(reject_reason::stale_timestamp,
                  "webhook-timestamp is more than "
                      + std::to_string(cfg.tolerance.count())
                      + " s away from now");
  auto r = accept();
  // The specification's recommended payload carries the type at the top.
  read_body_info(req.body, "type", "", "", r.info);
  r.info.delivery_id = std::string{*id};
  return r;
}

} // namespace

std::string_view to_string(scheme x) noexcept {
  switch (x) {
  case scheme::github: return "github";
  case scheme::forgejo: return "forgejo";
  case scheme::gitea: return "gitea";
  case scheme::gitlab: return "gitlab";
  case scheme::stripe: return "stripe";
  case scheme::slack: return "slack";
  case scheme::standard_webhooks: return "standard_webhooks";
  case scheme::hmac: return "hmac";
  case scheme::token: return "token";
  case scheme::none: return "none";
  }
  return "none";
}

std::optional<scheme> parse_scheme(std::string_view name) noexcept {
  for (auto k : {scheme::github, scheme::forgejo, scheme::gitea, scheme::gitlab,
                 scheme::stripe, scheme::slack, scheme::standard_webhooks,
                 scheme::hmac, scheme::token, scheme::none})
    if (name == to_string(k))
      return k;
  if (name == "standard-webhooks")
    return scheme::standard_webhooks;
  return std::nullopt;
}

std::string_view to_string(reject_reason x) noexcept {
  switch (x) {
  case reject_reason::missing_signature: return "missing_signature";
  case reject_reason::malformed_signature: return "malformed_signature";
  case reject_reason::bad_signature: return "bad_signature";
  case reject_reason::missing_timestamp: return "missing_timestamp";
  case reject_reason::malformed_timestamp: return "malformed_timestamp";
  case reject_reason::stale_timestamp: return "stale_timestamp";
  case reject_reason::invalid_config: return "invalid_config";
  }
  return "invalid_config";
}

std::optional<std::string> validate(const verify_config& cfg) {
  auto name = std::string{to_string(cfg.kind)};
  if (cfg.kind == scheme::none) {
    if (!cfg.secrets.empty())
      return "secrets: scheme none takes no secrets (it accepts every "
             "request); choose a scheme that uses them";
  } else {
    if (cfg.secrets.empty())
      return "secrets: scheme " + name + " needs at least one secret";
    for (size_t i = 0; i < cfg.secrets.size(); ++i) {
      auto field = "secrets[" + std::to_string(i) + "]";
      if (cfg.secrets[i].empty())
        return field + ": is empty";
      if (cfg.kind == scheme::standard_webhooks
          && !standard_webhooks_key(cfg.secrets[i]))
        return field
               + ": a Standard Webhooks secret must be non-empty base64, "
                 "optionally prefixed with \"whsec_\"";
    }
  }
  if (uses_timestamp(cfg.kind) && cfg.tolerance < std::chrono::seconds{1})
    return "tolerance: must be at least 1s for scheme " + name;
  if (cfg.kind == scheme::hmac) {
    if (cfg.header.empty())
      return "header: scheme hmac needs the name of the signature header";
    if (!is_header_name(cfg.header))
      return "header: " + in_quotes(cfg.header) + " is not a valid header name";
    if (!parse_digest(cfg.algorithm))
      return "algorithm: " + in_quotes(cfg.algorithm)
             + " is not one of sha1, sha256, sha512";
    if (cfg.encoding != "hex" && cfg.encoding != "base64")
      return "encoding: " + in_quotes(cfg.encoding)
             + " is not one of hex, base64";
    return std::nullopt;
  }
  verify_config defaults;
  if (cfg.kind == scheme::token) {
    if (!cfg.header.empty() && !is_header_name(cfg.header))
      return "header: " + in_quotes(cfg.header) + " is not a valid header name";
  } else if (!cfg.header.empty()) {
    return "header: only schemes hmac and token use it, not " + name;
  }
  if (cfg.algorithm != defaults.algorithm)
    return "algorithm: only scheme hmac uses it, not " + name;
  if (cfg.encoding != defaults.encoding)
    return "encoding: only scheme hmac uses it, not " + name;
  if (!cfg.prefix.empty())
    return "prefix: only scheme hmac uses it, not " + name;
  return std::nullopt;
}

verify_result verify(const verify_config& cfg, const request_view& req) {
  if (auto problem = validate(cfg))
    return reject(reject_reason::invalid_config, std::move(*problem));
  verify_result r;
  switch (cfg.kind) {
  case scheme::github: r = verify_github(cfg, req); break;
  case scheme::forgejo: r = verify_forgejo(cfg, req); break;
  case scheme::gitea: r = verify_gitea(cfg, req); break;
  case scheme::gitlab: r = verify_gitlab(cfg, req); break;
  case scheme::stripe: r = verify_stripe(cfg, req); break;
  case scheme::slack: r = verify_slack(cfg, req); break;
  case scheme::standard_webhooks: r = verify_standard_webhooks(cfg, req); break;
  case scheme::hmac: r = verify_hmac(cfg, req); break;
  case scheme::token: r = verify_token(cfg, req); break;
  case scheme::none: r = accept(); break;
  }
  if (r)
    r.info.provider = std::string{to_string(cfg.kind)};
  return r;
}

} // namespace rouse::webhook
