// Governor behavior: a FIFO of pending runs and a count of running ones.
#include "actors/governor.hpp"

#include <caf/all.hpp>

#include <deque>
#include <unordered_set>

namespace rouse {

namespace {

struct governor_state {
  governor_config cfg;
  std::deque<run_record> waiting;
  /// Ids of runs handed to the dispatcher and not yet released.
  std::unordered_set<std::string> running;
  static inline const char* name = "governor";
};

using governor_pointer = governor_actor::stateful_pointer<governor_state>;

void pump(governor_pointer self) {
  auto& st = self->state;
  while (
      !st.waiting.empty()
      && (st.cfg.concurrency == 0 || st.running.size() < st.cfg.concurrency)) {
    auto run = std::move(st.waiting.front());
    st.waiting.pop_front();
    if (!st.running.insert(run.id).second)
      continue; // already executing: an admission can arrive twice after
                // recovery
    self->send(st.cfg.dispatcher, launch_atom::value, std::move(run));
  }
}

governor_actor::behavior_type governor(governor_pointer self,
                                       governor_config cfg) {
  self->state.cfg = std::move(cfg);
  return {
      [=](admit_atom, run_record& run) {
        self->state.waiting.push_back(std::move(run));
        pump(self);
      },
      [=](release_atom, const std::string& run_id) {
        self->state.running.erase(run_id);
        pump(self);
      },
      [=](limit_atom, uint32_t concurrency) {
        self->state.cfg.concurrency = concurrency;
        pump(self);
      },
  };
}

} // namespace

governor_actor spawn_governor(caf::actor_system& sys, governor_config cfg) {
  return sys.spawn(governor, std::move(cfg));
}

} // namespace rouse
