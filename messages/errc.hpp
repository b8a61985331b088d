// The rouse error vocabulary: one enum whose values say when they happen,
// carried in caf::error with category "rouse" so errors cross actor and node
// boundaries unchanged.
#pragma once

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstdint>
#include <string>

namespace rouse {

/// Every error rouse reports. The text in the error's context says the
/// specifics.
enum class errc : uint8_t {
  /// Outside input (a request body, a CLI argument, a pattern) is malformed.
  invalid_input = 1,
  /// A configuration file is invalid; the text names file, line and problem.
  invalid_config,
  /// A request body or field exceeds its configured limit.
  too_large,
  /// The requested object (event, run, trigger) does not exist.
  not_found,
  /// The LMDB map is full; nothing of the failed write was stored.
  storage_full,
  /// LMDB reported an error other than a full map (I/O, corruption,
  /// permissions).
  storage_failure,
  /// The store's on-disk schema version is not the one this binary understands.
  schema_mismatch,
  /// A queue is over its high-water mark; the caller should retry later.
  overloaded,
  /// Spawning or supervising a handler process failed.
  spawn_failed,
  /// The caller is not authorized (bad or missing token, bad signature).
  unauthorized,
  /// The component is shutting down and accepts no more work.
  shutting_down,
  /// A network peer (the rouse server, for CLI commands) could not be reached.
  unreachable,
};

/// Returns the name of `x`, e.g. "storage_full".
const char* to_string(errc x) noexcept;

/// Returns an error of category "rouse" with `x` and the human-readable `what`.
caf::error make_error(errc x, std::string what);

/// Returns an error of category "rouse" with `x` and no text.
caf::error make_error(errc x);

/// Returns true if `err` is the rouse error `x`.
bool is(const caf::error& err, errc x) noexcept;

/// Returns the human-readable text of `err`: the context string for rouse
/// errors, CAF's rendering for others; empty for no error.
std::string describe(const caf::error& err);

} // namespace rouse
