// The reference matcher: walks a compiled pattern and the unflattened event
// JSON side by side. Naive on purpose, so the fast machine can be checked
// against it; semantics in docs/patterns.md.
#pragma once

#include "runtime/pattern/pattern.hpp"

#include <string_view>

namespace rouse::pattern {

/// Returns true if `event_json` (a structured-mode CloudEvent, as
/// json::encode_cloudevent produces) matches `p`; false for invalid JSON or a
/// non-object. Thread-safe: each thread parses with its own parser.
bool reference_match(const pattern& p, std::string_view event_json);

} // namespace rouse::pattern
