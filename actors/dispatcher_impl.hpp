// The dispatcher's state and the steps its handlers share (private: only
// actors/dispatcher*.cpp include it). The behavior is in dispatcher.cpp; a
// run's start, outcome, skip and batch in dispatcher_runs.cpp; waits in
// dispatcher_waits.cpp; wakes and cancels in dispatcher_changes.cpp; the
// rouse.* events it publishes in dispatcher_publish.cpp.
#pragma once

#include "actors/dispatcher.hpp"
#include "actors/timer_service.hpp"

#include "runtime/config/config.hpp"
#include "runtime/match/wait_set.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace rouse::store {
struct run_op;
} // namespace rouse::store

namespace rouse::dispatcher_detail {

struct dispatcher_state {
  dispatcher_config cfg;
  /// Runs between launch and outcome (each holds one execution slot).
  uint32_t active = 0;
  /// Admitted runs waiting for a slot, oldest first (still `pending` in the
  /// store).
  std::deque<run_record> queued;
  /// Runs between begin() and their outcome: they cannot be cancelled.
  std::unordered_set<std::string> active_ids;
  /// Runs with a wake or cancel being committed: a second one gets 409.
  std::unordered_set<std::string> busy;
  /// Running runs being stopped: who asked (may be empty) and why. The
  /// outcome ends them `cancelled`.
  std::unordered_map<std::string, std::pair<run_reply, std::string>> stopping;
  /// Pending or retrying runs cancelled while a governor or the queue may
  /// still hold them: skipped when they come up.
  std::unordered_set<std::string> cancelled;
  /// Runs waiting for an event, by run id, indexed by their patterns.
  match::wait_set waits;
  /// Sleeps asked for by running runs through the API (`rouse wake-me`):
  /// (due, state) applied when the attempt succeeds without its own wait.
  std::unordered_map<std::string, std::pair<int64_t, std::string>> wake_me;
  /// Wakes sleeping runs and times out waits (linked: it ends with us).
  timer_service_actor timers;
  static inline const char* name = "dispatcher";
};

using dispatcher_pointer = dispatcher_actor::stateful_pointer<dispatcher_state>;

/// The trigger a run belongs to, from the current table (null if it has been
/// removed). Holds the table so the entry stays valid while in use.
struct trigger_ref {
  trigger_table_ptr table;
  const trigger_entry* entry = nullptr;
};

// --- a run's start, outcome, skip and batch (dispatcher_runs.cpp) ----------

/// Returns the trigger named `name` in the current table.
trigger_ref find_trigger(dispatcher_pointer self, const std::string& name);

/// Stores a run's outcome (or wait), then releases its slot at its governor.
void store_final(dispatcher_pointer self, run_record run, double cost,
                 run_reply reply = {});

/// Takes an execution slot and stores `run` as running.
void begin(dispatcher_pointer self, run_record run);

/// Frees the execution slot of `run_id` and begins queued runs.
void release_slot(dispatcher_pointer self, const std::string& run_id);

/// Returns the wait before the attempt after `attempt` under `p`.
std::chrono::milliseconds retry_delay(const config::retry_policy& p,
                                      uint32_t attempt);

/// Stores a run its governor decided not to run.
void skip_run(dispatcher_pointer self, run_record run, run_state state,
              std::string reason);

/// Stores a batch run and its members, then admits the batch again.
void store_batch(dispatcher_pointer self, run_record leader,
                 std::vector<run_record> members);

// --- waits (dispatcher_waits.cpp) ------------------------------------------

/// Returns why the wait `outcome` asks for cannot be kept ("" if it can).
std::string invalid_wait(const run_outcome& outcome);

/// Stores the run as waiting and frees its slots.
void go_waiting(dispatcher_pointer self, run_record run, run_outcome outcome,
                int64_t now);

/// Wakes `run` once an event matches its wait, looking back first.
void watch(dispatcher_pointer self, const run_record& run);

/// Drops the wait of `run_id` for an event, if it has one.
void forget_wait(dispatcher_pointer self, const std::string& run_id);

// --- wakes and cancels (dispatcher_changes.cpp) ----------------------------

/// Answers `reply` (if there is one) with `status` and `body`.
void answer(const run_reply& reply, int status, std::string body);

/// Returns the JSON body {"error": message}.
std::string error_body(std::string_view message);

/// Wakes a waiting run or starts a retrying run's next attempt now.
void wake(dispatcher_pointer self, wake_request req, run_reply reply);

/// Stops running run `id` of trigger `trigger` through its exec handler.
void stop_running(dispatcher_pointer self, const std::string& id,
                  const std::string& trigger, std::string reason,
                  run_reply reply);

/// Cancels run `id`: stops it if it runs here, else stores it cancelled.
void cancel(dispatcher_pointer self, const std::string& id, run_reply reply);

/// Continues a wake or cancel once it is committed (or failed to be).
void settled(dispatcher_pointer self, bool ok, run_record run, run_reply reply,
             int64_t disarmed_due);

// --- rouse.* events (dispatcher_publish.cpp) -------------------------------

/// Adds to `op` the rouse.run.* event for `run`'s new state.
void publish(dispatcher_pointer self, store::run_op& op, const run_record& run);

/// Publishes and logs an event about trigger `trigger`.
void notice(dispatcher_pointer self, const std::string& trigger,
            const std::string& type, const std::string& note,
            const std::string& key);

} // namespace rouse::dispatcher_detail
