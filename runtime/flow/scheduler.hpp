// The decisions of one trigger's governor, without an actor or a clock: which
// admitted run starts next under the trigger's flow policies (singleton,
// debounce, batch, rate, queue bound, priority, concurrency), and which runs
// are skipped, rejected or folded into a batch. The governor actor
// (actors/governor) feeds it runs and the time, and carries out what it
// decides; tests drive it with any time they like.
//
// A run passes the stages in this order; each stage is optional:
//
//   singleton -> debounce | batch -> ready queue (rate, queue bound,
//   priority) -> concurrency slot -> budget -> launch
//
// Runs admitted again (a retry, a resumed run, a batch once stored) skip the
// first three stages: they were decided already.
#pragma once

#include "messages/flow.hpp"
#include "messages/run.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace rouse::config {
struct flow_policy;
} // namespace rouse::config

namespace rouse::flow {

using settings = flow_settings;

/// Converts a trigger's configuration.
settings settings_from(uint32_t concurrency, const config::flow_policy& p);

/// A run as the scheduler sees it.
struct item {
  std::string run_id;
  /// The event's journal position: the order of runs of equal priority.
  uint64_t seq = 0;
  /// When the run was created (wall clock, ns): debounce and batch windows
  /// and aging count from it.
  int64_t arrived_ns = 0;
  /// Rendered keys and priority.
  run_flow keys;
  /// First admission (false: admitted again, goes straight to the queue).
  bool fresh = true;
  /// Its first start: it counts as a run against the budget.
  bool counts = true;
};

/// What the governor must do.
struct decision {
  enum kind_t : uint8_t {
    /// Start `run_id` (it holds a slot until release()).
    launch,
    /// Store `run_id` as skipped with `reason`.
    skip,
    /// Store `run_id` as dead (dead-letter queue) with `reason`.
    reject,
    /// Store `run_id` as a batch of itself and `members` (oldest first), the
    /// members as skipped; then admit `run_id` again (not fresh).
    batch,
    /// The circuit breaker opened (`reason` says why): publish
    /// rouse.trigger.circuit_open. `run_id` is empty.
    circuit_open,
    /// The circuit breaker closed after a successful probe run `run_id`:
    /// publish rouse.trigger.circuit_closed.
    circuit_closed,
    /// Stop running run `run_id` (`reason`: a singleton in cancel mode was
    /// replaced); it is released as usual once it ended.
    stop,
    /// Budget key `run_id` ("" for the whole trigger) spent its budget for
    /// the window (`reason` says what and until when): publish
    /// rouse.budget.exceeded.
    budget_exceeded,
  };
  kind_t kind = launch;
  std::string run_id;
  std::string reason;
  std::vector<std::string> members;
};

class scheduler {
public:
  explicit scheduler(settings s);

  /// Takes a run. Duplicates of a run held or running are ignored.
  void admit(item x, int64_t now, std::vector<decision>& out);

  /// Frees the slot of a launched run. `ok` is its outcome when it finished
  /// (true: succeeded; false: failed, retrying or dead), empty when it waits;
  /// the circuit breaker counts outcomes.
  void release(const std::string& run_id, int64_t now,
               std::vector<decision>& out, std::optional<bool> ok = {},
               double cost = 0);

  /// Takes what the budget keys spent before (from the store) for windows
  /// that are still current.
  void load_budget(const std::vector<budget_usage>& spent, int64_t now);

  /// Forgets what budget key `key` (every key if empty) spent in the current
  /// window, so runs held by the budget start again; returns the keys reset,
  /// with their window, to be stored as spending nothing.
  std::vector<budget_usage> resume(const std::optional<std::string>& key,
                                   int64_t now, std::vector<decision>& out);

  /// What every budget key spent in its current window.
  std::vector<budget_usage> budget_spent(int64_t now) const;

  /// The circuit breaker's state: "closed", "open" or "half_open".
  const char* circuit() const noexcept;

  /// The circuit breaker's state to store after circuit_open or
  /// circuit_closed: "open <until ns>" or "closed".
  std::string circuit_memo() const;

  /// The rate key's theoretical arrival time (GCRA) after a launch, to store
  /// so that a restart does not hand out a fresh burst; nullopt without a
  /// rate limit or state for the key.
  std::optional<int64_t> rate_memo(const std::string& rate_key) const;

  /// Takes what rate_memo() gave before a restart; times that passed (the
  /// bucket is full again) are ignored.
  void load_rate(const std::vector<std::pair<std::string, int64_t>>& tats,
                 int64_t now);

  /// Takes a state circuit_memo() gave before a restart: an open circuit
  /// stays open until its time (then a probe decides); anything else is
  /// closed. Consecutive failures before the restart are not kept.
  void load_circuit(std::string_view memo);

  /// Acts on everything due at `now`: debounce and batch windows that closed,
  /// rate tokens that came.
  void advance(int64_t now, std::vector<decision>& out);

  /// The earliest time advance() has something to do, if any.
  std::optional<int64_t> next_due() const;

  /// Switches to new policies. Runs held keep their order and go through
  /// the new stages again; running runs keep their slots.
  void reconfigure(settings s, int64_t now, std::vector<decision>& out);

  const settings& policies() const noexcept { return cfg_; }
  /// Returns true if `run_id` is held or running.
  bool knows(const std::string& run_id) const {
    return held_.count(run_id) > 0 || running_.count(run_id) > 0;
  }
  /// Runs waiting in the ready queue.
  std::size_t queued() const noexcept { return ready_by_seq_.size(); }
  /// Runs held in any stage (queued, debounced, batching, next singleton).
  std::size_t held() const noexcept { return held_.size(); }
  /// Runs launched and not released.
  std::size_t running() const noexcept { return running_.size(); }

private:
  enum class stage : uint8_t { next, debounce, batch, ready };
  struct held_run {
    item x;
    stage at = stage::ready;
    int64_t score = 0;
    std::string part;
  };
  struct slot {
    std::string part;
    std::string single;
    std::string budget;
  };
  struct single_state {
    std::string active;
    std::string next;
    /// A stop of the running `active` went out.
    bool stopping = false;
  };
  struct burst {
    std::string candidate;
    int64_t first_ns = 0;
    int64_t due_ns = 0;
  };
  struct pile {
    std::vector<std::string> ids;
    int64_t due_ns = 0;
  };
  using rank = std::pair<int64_t, uint64_t>; // (score, seq)
  struct partition {
    std::set<rank> waiting;
    uint32_t running = 0;
    bool blocked = false;
    std::optional<rank> listed;
  };

  void after_singleton(held_run h, int64_t now, std::vector<decision>& out);
  void to_debounce(held_run h, std::vector<decision>& out);
  void to_batch(held_run h, std::vector<decision>& out);
  void flush_batch(const std::string& key, std::vector<decision>& out);
  void to_ready(held_run h, int64_t now, std::vector<decision>& out);
  void relist(const std::string& part);
  void pump(int64_t now, std::vector<decision>& out);
  void settle(int64_t now, std::vector<decision>& out);
  /// Removes a held run from its stage and forgets it.
  void remove(const std::string& id);
  /// Forgets a held run that left its stage.
  void forget(const std::string& id);
  /// Ends `x`'s turn as its key's singleton, if it has it.
  void unmark_single(const item& x);
  void skip(const std::string& id, std::string reason,
            std::vector<decision>& out);
  void count_outcome(const std::string& run_id, bool ok, int64_t now,
                     std::vector<decision>& out);
  /// When the rate key's next token comes (<= now: one is there).
  int64_t token_at(const std::string& key, int64_t now) const;
  std::string budget_key(const item& x) const;
  /// When budget key `key` may start a run again (<= now: it may now).
  int64_t budget_at(const std::string& key, int64_t now) const;
  /// Counts a started run or a reported cost against budget key `key`, and
  /// reports when that spends the budget.
  void spend(const std::string& key, uint64_t runs, double cost, int64_t now,
             std::vector<decision>& out);
  void take_token(const std::string& key, int64_t now);
  std::string part_of(const item& x) const;
  int64_t score_of(const item& x) const;
  uint32_t part_limit() const;

  settings cfg_;
  std::unordered_map<std::string, held_run> held_;
  std::unordered_map<std::string, slot> running_;
  std::unordered_map<std::string, single_state> singles_;
  std::unordered_map<std::string, burst> bursts_;
  std::set<std::pair<int64_t, std::string>> burst_due_;
  std::unordered_map<std::string, pile> piles_;
  std::set<std::pair<int64_t, std::string>> pile_due_;
  std::unordered_map<std::string, partition> parts_;
  std::set<std::tuple<int64_t, uint64_t, std::string>> eligible_;
  std::multimap<int64_t, std::string> blocked_;
  std::map<uint64_t, std::string> ready_by_seq_;
  /// GCRA: the theoretical arrival time per rate key.
  std::unordered_map<std::string, int64_t> tat_;
  /// Budget: what each key spent in its window; `told` once
  /// budget_exceeded went out for that window.
  struct spending {
    int64_t window_ns = 0;
    uint64_t runs = 0;
    double cost = 0;
    bool told = false;
  };
  std::unordered_map<std::string, spending> spent_;
  int64_t spent_swept_ns_ = 0;
  int64_t tat_swept_ns_ = 0;
  /// Circuit breaker: consecutive failures, and while open the time the
  /// probe may start; half open: the probe run in flight.
  uint32_t failures_ = 0;
  enum class circuit_state : uint8_t { closed, open, half_open };
  circuit_state circuit_ = circuit_state::closed;
  int64_t open_until_ns_ = 0;
  std::string probe_;
};

} // namespace rouse::flow
