// Tick decisions. Every decision is recorded in the state before the caller
// acts on it; the caller stores the state after the fired ticks' events are
// committed, and a tick decided again after a crash is the same event (its id
// is the schedule's name and nominal time), so it is stored once.
#include "sources/cron/ticker.hpp"

#include <array>

namespace rouse::sources::cron {

namespace {

constexpr std::array overlap_names{"skip", "buffer_one", "buffer_all",
                                   "cancel_other", "allow_all"};
constexpr std::array catchup_names{"none", "last", "all"};
constexpr std::array outcome_names{"fired", "skipped_overlap", "missed_catchup",
                                   "buffered"};

/// FNV-1a: a stable hash of the source's name for its jitter offset.
uint64_t stable_hash(std::string_view text) noexcept {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

} // namespace

const char* to_string(overlap_policy x) noexcept {
  return overlap_names[static_cast<std::size_t>(x)];
}

const char* to_string(catchup_policy x) noexcept {
  return catchup_names[static_cast<std::size_t>(x)];
}

const char* to_string(tick_outcome x) noexcept {
  auto i = static_cast<std::size_t>(x);
  return i < outcome_names.size() ? outcome_names[i] : "unknown";
}

std::optional<overlap_policy> parse_overlap(std::string_view name) noexcept {
  for (std::size_t i = 0; i < overlap_names.size(); ++i)
    if (name == overlap_names[i])
      return static_cast<overlap_policy>(i);
  return std::nullopt;
}

std::optional<catchup_policy> parse_catchup(std::string_view name) noexcept {
  for (std::size_t i = 0; i < catchup_names.size(); ++i)
    if (name == catchup_names[i])
      return static_cast<catchup_policy>(i);
  return std::nullopt;
}

ticker::ticker(std::string name, rouse::cron::schedule sched,
               ticker_policy policy, ticker_state state)
    : name_(std::move(name)), sched_(std::move(sched)), policy_(policy),
      state_(std::move(state)) {
  auto jitter = policy_.jitter.count();
  if (jitter > 0)
    offset_ns_ = static_cast<int64_t>(stable_hash(name_)
                                      % static_cast<uint64_t>(jitter));
}

void ticker::record(int64_t nominal, int64_t now, tick_outcome outcome) {
  switch (outcome) {
  case tick_outcome::fired: ++state_.fired; break;
  case tick_outcome::skipped_overlap: ++state_.skipped; break;
  case tick_outcome::missed_catchup: ++state_.missed; break;
  case tick_outcome::buffered: break;
  }
  state_.recent.push_back(tick_record{nominal, nominal + offset_ns_, now,
                                      static_cast<uint8_t>(outcome), 0});
  while (state_.recent.size() > max_recent)
    state_.recent.pop_front();
}

std::vector<tick_fire> ticker::advance(int64_t now, bool previous_active) {
  std::vector<tick_fire> out;
  if (state_.decided_through_ns == 0) {
    // First start ever: the schedule begins now, nothing is owed.
    state_.decided_through_ns = now;
    return out;
  }
  bool busy = previous_active;
  if (!busy && !state_.buffered.empty()) {
    auto nominal = state_.buffered.front();
    state_.buffered.pop_front();
    record(nominal, now, tick_outcome::fired);
    out.push_back(tick_fire{nominal, nominal + offset_ns_, false, true, false});
    busy = policy_.overlap != overlap_policy::allow_all;
  }
  // Every tick due by now, oldest first. Ticks older than the catch-up window
  // are missed under every policy; after max_enumerated of them the rest of
  // that span is skipped without records.
  const int64_t window_start = now - policy_.catchup_window.count();
  std::deque<int64_t> due;
  std::size_t too_old = 0;
  auto n = sched_.next(state_.decided_through_ns);
  while (n && *n + offset_ns_ <= now) {
    state_.decided_through_ns = *n;
    if (*n + offset_ns_ < window_start) {
      record(*n, now, tick_outcome::missed_catchup);
      if (++too_old >= max_enumerated) {
        n = sched_.next(window_start - offset_ns_ - 1);
        continue;
      }
    } else {
      due.push_back(*n);
      if (due.size() > max_enumerated) {
        record(due.front(), now, tick_outcome::missed_catchup);
        due.pop_front();
      }
    }
    n = sched_.next(*n);
  }
  // Late ticks fall under the catch-up policy: those decided more than
  // `grace` after they were due, and every one a newer tick followed. An
  // on-time tick fires (subject to the overlap policy).
  std::vector<int64_t> late;
  std::vector<int64_t> on_time;
  for (std::size_t i = 0; i < due.size(); ++i) {
    auto t = due[i];
    bool newest = i + 1 == due.size();
    (newest && now - (t + offset_ns_) <= policy_.grace.count() ? on_time : late)
        .push_back(t);
  }
  std::vector<std::pair<int64_t, bool>> candidates; // nominal, catch-up
  std::size_t keep = 0;
  switch (policy_.catchup) {
  case catchup_policy::none: keep = 0; break;
  case catchup_policy::last: keep = on_time.empty() ? 1 : 0; break;
  case catchup_policy::all: keep = policy_.catchup_max; break;
  }
  keep = std::min(keep, late.size());
  for (std::size_t i = 0; i < late.size(); ++i) {
    if (i + keep < late.size())
      record(late[i], now, tick_outcome::missed_catchup);
    else
      candidates.emplace_back(late[i], true);
  }
  for (auto t : on_time)
    candidates.emplace_back(t, false);
  for (auto [nominal, catchup] : candidates) {
    tick_fire fire{nominal, nominal + offset_ns_, catchup, false, false};
    if (!busy || policy_.overlap == overlap_policy::allow_all) {
      record(nominal, now, tick_outcome::fired);
      out.push_back(fire);
      busy = policy_.overlap != overlap_policy::allow_all;
      continue;
    }
    switch (policy_.overlap) {
    case overlap_policy::skip:
      record(nominal, now, tick_outcome::skipped_overlap);
      break;
    case overlap_policy::buffer_one:
    case overlap_policy::buffer_all: {
      auto cap =
          policy_.overlap == overlap_policy::buffer_one ? 1 : max_buffered;
      if (state_.buffered.size() < cap) {
        state_.buffered.push_back(nominal);
        record(nominal, now, tick_outcome::buffered);
      } else {
        record(nominal, now, tick_outcome::skipped_overlap);
      }
      break;
    }
    case overlap_policy::cancel_other:
      fire.cancel_previous = true;
      record(nominal, now, tick_outcome::fired);
      out.push_back(fire);
      break;
    case overlap_policy::allow_all: break; // handled above
    }
  }
  return out;
}

void ticker::fired(int64_t nominal_ns, uint64_t seq) {
  state_.last_fired_seq = seq;
  for (auto i = state_.recent.rbegin(); i != state_.recent.rend(); ++i)
    if (i->nominal_ns == nominal_ns
        && i->outcome == static_cast<uint8_t>(tick_outcome::fired)) {
      i->event_seq = seq;
      break;
    }
}

std::optional<int64_t> ticker::next_due() const {
  auto from = state_.decided_through_ns;
  auto n = sched_.next(from);
  if (!n)
    return std::nullopt;
  return *n + offset_ns_;
}

} // namespace rouse::sources::cron
