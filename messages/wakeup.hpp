// A wakeup: a durable timer owned by a run ("run/<run id>": a sleep, a wait
// timeout, a retry backoff) or a source ("cron/<source>": its next tick).
// Stored in LMDB keyed by (due time, owner) (runtime/store) and sent between
// actors; the timer service (actors/timer_service) fires them.
#pragma once

#include <caf/meta/type_name.hpp>

#include <compare>
#include <cstdint>
#include <string>

namespace rouse {

/// Identifies a wakeup; ordered by (due_ns, owner), which is also the order of
/// the stored keys (8 big-endian bytes of due_ns, then the owner's bytes).
struct wakeup_key {
  /// Wall-clock due time in nanoseconds since the epoch; never negative.
  int64_t due_ns = 0;
  /// Who is woken: "run/<run id>", "cron/<source>". Non-empty; at most
  /// store::max_wakeup_owner_bytes bytes.
  std::string owner;

  friend auto operator<=>(const wakeup_key&, const wakeup_key&) = default;
  friend bool operator==(const wakeup_key&, const wakeup_key&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wakeup_key& x) {
  return f(caf::meta::type_name("wakeup_key"), x.due_ns, x.owner);
}

/// A durable timer: at `due_ns`, `owner` is called with `payload`.
struct wakeup {
  int64_t due_ns = 0;
  std::string owner;
  /// Opaque bytes for the owner (e.g. which wait of a run timed out).
  std::string payload;

  /// Returns (due_ns, owner).
  wakeup_key key() const { return wakeup_key{due_ns, owner}; }

  friend bool operator==(const wakeup&, const wakeup&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wakeup& x) {
  return f(caf::meta::type_name("wakeup"), x.due_ns, x.owner, x.payload);
}

} // namespace rouse
