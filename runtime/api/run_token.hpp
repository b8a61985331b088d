// Run tokens: what a handler process presents (ROUSE_RUN_TOKEN) when it calls
// the API, so the events it emits carry causation (rousecause, rousedepth) and
// loops can be cut. A token is "<run id>.<HMAC-SHA256 of the run id under a
// per-process secret, hex>": it proves the caller got it from that run, and
// tokens of a previous process (whose runs were killed) no longer verify.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rouse::api {

class run_tokens {
public:
  /// Draws a random 32-byte secret.
  run_tokens();

  /// Returns the token of `run_id`.
  std::string issue(std::string_view run_id) const;

  /// Returns the run id of a valid token; nothing for a forged, foreign or
  /// malformed one (checked in constant time).
  std::optional<std::string> verify(std::string_view token) const;

private:
  std::string secret_;
};

} // namespace rouse::api
