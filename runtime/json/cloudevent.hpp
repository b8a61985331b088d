// CloudEvents 1.0 JSON format: decoding request bodies (one event or an array
// of them) with simdjson, and encoding events for handlers and the API.
#pragma once

#include "messages/errc.hpp"
#include "messages/event.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rouse::json {

/// Limits and defaults applied while decoding.
struct decode_options {
  /// Most events accepted in one array body; more is errc::too_large.
  /// Bounds the work one request can cause. Default 1,000.
  std::size_t max_events = 1000;
  /// Longest accepted id, source, type or subject, in bytes. Default 1,024.
  std::size_t max_attribute_bytes = 1024;
  /// When true, an event without `id` gets a random one (128 bits, hex) instead
  /// of an error. Convenient for manual emits; a sender that retries should set
  /// its own id so dedup can recognise the retry.
  bool generate_missing_id = true;
};

/// Decodes a structured-mode CloudEvent (a JSON object) or a batch (a JSON
/// array of objects). Errors are errc::invalid_input (or errc::too_large) with
/// a message that names the event index and attribute, e.g. `event[1]: missing
/// required attribute "type"`.
caf::expected<std::vector<event>>
decode_events(std::string_view body, const decode_options& opts = {});

/// Decodes exactly one CloudEvent object.
caf::expected<event> decode_event(std::string_view body,
                                  const decode_options& opts = {});

/// Returns `ev` as a structured-mode CloudEvent JSON object (no internal
/// fields).
std::string encode_cloudevent(const event& ev);

/// Returns `ev` as the API shows it: the CloudEvent plus a "rouse" object with
/// seq, received_by, received_at (RFC 3339), depth and cause.
std::string encode_stored_event(const event& ev);

/// Returns `ns` (since the epoch) as RFC 3339 UTC with milliseconds, e.g.
/// "2026-11-21T09:00:00.123Z".
std::string format_rfc3339(int64_t ns);

/// Returns 32 random hex characters (for generated event ids).
std::string random_hex_id();

} // namespace rouse::json
