// The journal writer: the one thread that writes to the store. Producers (HTTP
// threads, actors) submit write operations through a lock-free queue; every
// operation that arrives while a commit is in flight joins the next transaction
// (group commit), so durability costs one fsync per batch. Each operation's
// callback runs only after its commit returned.
#pragma once

#include "messages/errc.hpp"
#include "messages/event.hpp"
#include "messages/flow.hpp"
#include "messages/run.hpp"
#include "messages/wakeup.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace rouse::store {

class store;

/// What became of one appended event.
struct append_outcome {
  uint64_t seq = 0;
  std::string id;
  /// True if the event was a duplicate; `seq` is the original's.
  bool duplicate = false;
};

/// Appends events (one request's worth: all stored or none).
struct append_op {
  std::vector<event> events;
  std::function<void(caf::expected<std::vector<append_outcome>>)> done;
};

/// Records a router decision: the runs a consumer created for events up to
/// `through_seq`, and that checkpoint, in one transaction. `done` receives the
/// runs that were new (a replayed decision creates none again).
struct route_op {
  std::string consumer;
  uint64_t through_seq = 0;
  std::vector<run_record> runs;
  std::function<void(caf::expected<std::vector<run_record>>)> done;
};

/// Stores a run state transition, with the wakeups it sets and clears, in one
/// transaction (a run becoming `waiting` and its wakeup are stored together).
/// `disarm` is applied before `arm`. After `done` reports success, the sender
/// tells the timer service (arm_atom / disarm_atom).
struct run_op {
  run_record run;
  /// More runs stored in the same transaction (a batch and its members).
  std::vector<run_record> also;
  /// Events appended in the same transaction (rouse.run.* about this run):
  /// committed with the transition or not at all.
  std::vector<event> emit;
  std::function<void(caf::error)> done;
  /// Wakeups to store (replacing any with the same key).
  std::vector<wakeup> arm;
  /// Wakeups to delete; unknown keys are ignored.
  std::vector<wakeup_key> disarm;
  /// Charges to the budget of `run`'s trigger (store::charge_budget).
  std::vector<budget_usage> charge;
};

/// Sets what budget keys of `trigger` spent (a resume sets zero).
struct budget_op {
  std::string trigger;
  std::vector<budget_usage> usage;
  std::function<void(caf::error)> done;
};

/// Stores and deletes wakeups in one transaction: all of them or none.
/// `disarm` is applied before `arm`, so one op can move a wakeup. After `done`
/// reports success, the sender tells the timer service (arm_atom /
/// disarm_atom).
struct wakeup_op {
  std::vector<wakeup> arm;
  std::vector<wakeup_key> disarm;
  std::function<void(caf::error)> done;
};

/// Stores (or, with no definition, removes) an API-managed trigger.
struct trigger_op {
  std::string name;
  std::optional<std::string> definition;
  std::function<void(caf::error)> done;
};

/// Stores a component's state under `key` (store::put_state), e.g. a cron
/// source's decided ticks.
struct state_op {
  std::string key;
  std::string value;
  std::function<void(caf::error)> done;
};

using write_op = std::variant<append_op, route_op, run_op, trigger_op,
                              wakeup_op, state_op, budget_op>;

/// Tuning of the writer.
struct journal_options {
  /// Most operations in one transaction. Larger batches amortize the fsync
  /// further but delay the first ack of the batch. Default 1,024.
  std::size_t max_batch_ops = 1024;
  /// Queued operations above which overloaded() is true (callers answer 503).
  /// Default 20,000.
  std::size_t high_water_ops = 20000;
  /// Runs queued downstream (held by governors, waiting for a slot), counted
  /// by the pipeline; null: not watched.
  std::shared_ptr<const std::atomic<int64_t>> queued_runs;
  /// queued_runs above which overloaded() is true, until it falls below 3/4
  /// of it. Default 100,000.
  int64_t high_water_runs = 100'000;
};

/// Called on the writer thread after each commit with the events that were new
/// in it, in seq order.
using committed_fn = std::function<void(std::vector<event>&&)>;

/// Called on the writer thread after each commit: seconds the commit took,
/// number of operations and of new events in it.
using commit_observer = std::function<void(double, std::size_t, std::size_t)>;

/// Thread safety: submit(), backlog() and overloaded() may be called from any
/// thread. Callbacks run on the writer thread and must not block.
class journal {
public:
  /// Starts the writer thread over `db`, which must outlive the journal.
  journal(store& db, journal_options opts, committed_fn on_committed,
          commit_observer observer = {});
  ~journal();
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;

  /// Queues `op`. Ops are applied in submission order across threads: an op
  /// submitted after another's submit() returned (on any thread) is applied
  /// after it, in the same commit or a later one. After stop(), the op's
  /// callback gets errc::shutting_down at once.
  void submit(write_op op);

  /// Returns the number of queued and in-flight operations (approximate).
  std::size_t backlog() const noexcept;

  /// Returns true while the backlog is above the high-water mark, or the
  /// queued runs are above theirs (see journal_options).
  bool overloaded() const noexcept;

  /// Returns why overloaded() is true ("" when it is not), for the 503 body.
  std::string overload_reason() const;

  /// Commits what is queued, then stops the thread. Idempotent.
  void stop();

  /// Number of commits so far (for tests and metrics).
  uint64_t commits() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace rouse::store
