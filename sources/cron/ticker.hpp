// The decisions of a cron source, without an actor or a clock: which ticks
// fire, which are skipped because the previous run still runs (overlap
// policy), which are missed or caught up after downtime (catch-up policy), and
// when to look again. The actor (cron_source) feeds it the wall clock and
// whether the last tick's runs are finished, so every policy is testable on
// virtual time.
#pragma once

#include "runtime/cron/schedule.hpp"

#include <caf/meta/type_name.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rouse::sources::cron {

/// What a tick does while runs of the previous fired tick are unfinished.
enum class overlap_policy : uint8_t {
  /// Record the tick as skipped (default).
  skip,
  /// Keep one tick and fire it when the previous runs finish; later ones
  /// are skipped while it waits.
  buffer_one,
  /// Keep every tick (up to max_buffered) and fire them one after another.
  buffer_all,
  /// Cancel the previous runs that can be cancelled, then fire.
  cancel_other,
  /// Fire regardless.
  allow_all,
};

/// What happens to ticks that fell due while the host was down (or asleep):
/// a tick is late when it is decided more than `grace` after its due time, or
/// when a newer tick fell due too.
enum class catchup_policy : uint8_t {
  /// Late ticks are recorded as missed.
  none,
  /// The newest late tick within the window fires (default); the others are
  /// missed. None fires if an on-time tick follows it.
  last,
  /// Every late tick within the window fires, at most `catchup_max` (the
  /// newest), subject to the overlap policy.
  all,
};

const char* to_string(overlap_policy x) noexcept;
const char* to_string(catchup_policy x) noexcept;
std::optional<overlap_policy> parse_overlap(std::string_view name) noexcept;
std::optional<catchup_policy> parse_catchup(std::string_view name) noexcept;

/// The outcome recorded for each tick.
enum class tick_outcome : uint8_t {
  fired = 0,
  skipped_overlap = 1,
  missed_catchup = 2,
  buffered = 3,
};

const char* to_string(tick_outcome x) noexcept;

/// The most ticks buffer_all keeps; further ones are skipped.
inline constexpr std::size_t max_buffered = 1000;
/// The most tick records kept per schedule (newest).
inline constexpr std::size_t max_recent = 100;
/// The most due ticks enumerated in one decision; older ones (a long
/// downtime of a frequent schedule) are counted as missed without records.
inline constexpr std::size_t max_enumerated = 10000;

struct ticker_policy {
  overlap_policy overlap = overlap_policy::skip;
  catchup_policy catchup = catchup_policy::last;
  /// Late ticks older than this are missed under every policy. Default 24 h.
  std::chrono::nanoseconds catchup_window = std::chrono::hours{24};
  /// The most late ticks `all` fires. Default 100.
  uint32_t catchup_max = 100;
  /// Ticks fire up to this much after their nominal time, at an offset
  /// derived from the source's name (so it is the same for every tick and
  /// across restarts). Default 0.
  std::chrono::nanoseconds jitter{0};
  /// A tick decided later than this after its due time is late (catch-up
  /// applies). Default 60 s.
  std::chrono::nanoseconds grace = std::chrono::seconds{60};
};

/// One decided tick.
struct tick_record {
  int64_t nominal_ns = 0;
  /// When it was due: nominal plus the jitter offset.
  int64_t due_ns = 0;
  int64_t decided_ns = 0;
  uint8_t outcome = 0; // a tick_outcome
  /// The tick's event (fired ticks, once appended).
  uint64_t event_seq = 0;

  friend bool operator==(const tick_record&, const tick_record&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tick_record& x) {
  return f(caf::meta::type_name("tick_record"), x.nominal_ns, x.due_ns,
           x.decided_ns, x.outcome, x.event_seq);
}

/// What a cron source stores (LMDB meta, key "schedule/<name>").
struct ticker_state {
  /// Ticks with a nominal time up to here are decided; 0: never started.
  int64_t decided_through_ns = 0;
  /// Buffered nominal times, oldest first.
  std::deque<int64_t> buffered;
  /// The event of the newest fired tick (its runs decide overlaps).
  uint64_t last_fired_seq = 0;
  uint64_t fired = 0;
  uint64_t skipped = 0;
  uint64_t missed = 0;
  /// The newest decisions, oldest first, at most max_recent.
  std::deque<tick_record> recent;

  friend bool operator==(const ticker_state&, const ticker_state&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ticker_state& x) {
  return f(caf::meta::type_name("ticker_state"), x.decided_through_ns,
           x.buffered, x.last_fired_seq, x.fired, x.skipped, x.missed,
           x.recent);
}

/// A tick to fire now.
struct tick_fire {
  int64_t nominal_ns = 0;
  int64_t due_ns = 0;
  /// Fired by the catch-up policy (it was late).
  bool catchup = false;
  /// Fired from the buffer.
  bool from_buffer = false;
  /// cancel_other: cancel the previous tick's runs first.
  bool cancel_previous = false;
};

/// Thread safety: none; owned by one actor.
class ticker {
public:
  ticker(std::string name, rouse::cron::schedule sched, ticker_policy policy,
         ticker_state state = {});

  /// Decides every tick due by `now_ns` (and, if the previous runs are done,
  /// one buffered tick); `previous_active` says whether runs of the last fired
  /// tick are unfinished. The first call ever only starts the schedule at
  /// `now_ns`. Returns the ticks to fire, oldest first; every decision is in
  /// state().
  std::vector<tick_fire> advance(int64_t now_ns, bool previous_active);

  /// Records that the tick at `nominal_ns` was stored as event `seq`.
  void fired(int64_t nominal_ns, uint64_t seq);

  /// When advance() should be called next (the next tick's due time); nothing
  /// if the schedule has no further tick. While ticks are buffered the caller
  /// also polls for the previous runs to finish.
  std::optional<int64_t> next_due() const;

  /// The constant jitter offset of this source's ticks.
  int64_t jitter_offset_ns() const noexcept { return offset_ns_; }

  const ticker_state& state() const noexcept { return state_; }
  const rouse::cron::schedule& schedule() const noexcept { return sched_; }
  const ticker_policy& policy() const noexcept { return policy_; }
  const std::string& name() const noexcept { return name_; }

private:
  void record(int64_t nominal, int64_t now, tick_outcome outcome);

  std::string name_;
  rouse::cron::schedule sched_;
  ticker_policy policy_;
  ticker_state state_;
  int64_t offset_ns_ = 0;
};

} // namespace rouse::sources::cron
