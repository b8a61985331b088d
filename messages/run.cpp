// Run state names and run id derivation.
#include "messages/run.hpp"

#include <cstdio>

namespace rouse {

const char* to_string(run_state x) noexcept {
  switch (x) {
  case run_state::pending: return "pending";
  case run_state::running: return "running";
  case run_state::succeeded: return "succeeded";
  case run_state::failed: return "failed";
  case run_state::retrying: return "retrying";
  case run_state::dead: return "dead";
  case run_state::waiting: return "waiting";
  case run_state::cancelled: return "cancelled";
  case run_state::skipped: return "skipped";
  }
  return "unknown";
}

std::optional<run_state> parse_run_state(std::string_view name) noexcept {
  for (uint8_t i = 0; i <= static_cast<uint8_t>(run_state::skipped); ++i)
    if (name == to_string(static_cast<run_state>(i)))
      return static_cast<run_state>(i);
  return std::nullopt;
}

bool is_terminal(run_state x) noexcept {
  return x == run_state::succeeded || x == run_state::failed
         || x == run_state::dead || x == run_state::cancelled
         || x == run_state::skipped;
}

void run_record::transition(run_state to, int64_t at_ns, std::string note) {
  state = static_cast<uint8_t>(to);
  history.push_back(run_transition{state, at_ns, std::move(note)});
}

std::string run_wakeup_owner(std::string_view run_id) {
  std::string owner{"run/"};
  owner += run_id;
  return owner;
}

std::string emitted_by(std::string_view trigger) {
  return "run:" + std::string{trigger};
}

std::string make_run_id(uint64_t event_seq, std::string_view trigger) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx",
                static_cast<unsigned long long>(event_seq));
  std::string id{buf, 16};
  id += '-';
  id += trigger;
  return id;
}

} // namespace rouse
