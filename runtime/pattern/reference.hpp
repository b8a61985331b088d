// The reference matcher: walks a compiled pattern and the unflattened event
// JSON side by side. Naive on purpose, so the fast machine can be checked
// against it; semantics in docs/patterns.md.
#pragma once

#include "runtime/pattern/pattern.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace rouse::pattern {

/// Returns true if `event_json` (a structured-mode CloudEvent, as
/// json::encode_cloudevent produces) matches `p`; false for invalid JSON or a
/// non-object. Thread-safe: each thread parses with its own parser.
bool reference_match(const pattern& p, std::string_view event_json);

/// Returns nothing if `event_json` matches `p`, else why not: the first field
/// that failed and the values the event has there, e.g.
/// `data.size: 7 does not match` or `type: the event has no value here`.
/// Agrees with reference_match on whether it matches. Thread-safe.
std::optional<std::string> explain_mismatch(const pattern& p,
                                            std::string_view event_json);

} // namespace rouse::pattern
