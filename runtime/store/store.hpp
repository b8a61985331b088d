// The LMDB store: one environment in data_dir with named databases for events,
// the id/dedup index, checkpoints, runs, the run state index, API triggers and
// wakeups (timers). Keys are big-endian so LMDB order is time order. Writes go
// through write_txn and come from one thread (the journal).
#pragma once

#include "messages/errc.hpp"
#include "messages/event.hpp"
#include "messages/flow.hpp"
#include "messages/run.hpp"
#include "messages/wakeup.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct MDB_env;
struct MDB_txn;

namespace rouse::store {

/// How the store is opened.
struct store_options {
  /// Directory of the LMDB environment; created if missing.
  std::string dir;
  /// LMDB map size in bytes: the most the store can ever hold. Default 1 GiB.
  /// A full map fails writes with errc::storage_full; it never corrupts data.
  uint64_t map_size_bytes = 1ull << 30;
  /// true: fsync on every commit (survives power loss). false ("os" mode): the
  /// OS flushes later; survives a killed process but not a power cut. Default
  /// true.
  bool sync = true;
  /// Within this window a second event with the same (source, id) is a
  /// duplicate. Default 24 h. Longer windows only cost index space (the index
  /// is kept anyway).
  std::chrono::nanoseconds dedup_window = std::chrono::hours{24};
  /// Above this many bytes of file-backed memory mapped into the process
  /// (LMDB reads the store through a read-only mmap, so every page a read or
  /// a B-tree descent touches stays mapped), a commit unmaps the store's pages
  /// with madvise(MADV_DONTNEED). They stay in the OS page cache, so the next
  /// touch is a minor fault, not a disk read; what drops is this process's
  /// resident set. Checked after commits (at most every 10 ms) and every 256
  /// events or wakeups written. 0: never. Default 256 MiB.
  uint64_t max_mapped_bytes = 256ull << 20;
};

/// Longest accepted id + source, in bytes (LMDB's default key limit is 511).
constexpr std::size_t max_id_and_source_bytes = 500;

/// Longest accepted wakeup owner, in bytes: the key is 8 bytes of due time plus
/// the owner, and LMDB's default key limit is 511.
constexpr std::size_t max_wakeup_owner_bytes = 503;

/// A write transaction. Movable, not copyable; aborts on destruction unless
/// committed. Used by exactly one thread.
class write_txn {
public:
  write_txn() = default;
  write_txn(write_txn&& other) noexcept;
  write_txn& operator=(write_txn&& other) noexcept;
  write_txn(const write_txn&) = delete;
  write_txn& operator=(const write_txn&) = delete;
  ~write_txn();

  /// Commits; errc::storage_full or errc::storage_failure on failure (then
  /// nothing of this transaction is stored).
  caf::error commit();

  /// Discards every change.
  void abort() noexcept;

  /// Starts a nested transaction whose changes can be discarded on their own.
  caf::expected<write_txn> begin_child();

  /// Returns the seq the next appended event gets.
  uint64_t next_seq() const noexcept { return next_seq_; }

private:
  friend class store;
  write_txn(class store* owner, MDB_txn* txn, write_txn* parent,
            uint64_t next_seq)
      : owner_(owner), txn_(txn), parent_(parent), next_seq_(next_seq) {}

  class store* owner_ = nullptr;
  MDB_txn* txn_ = nullptr;
  write_txn* parent_ = nullptr;
  uint64_t next_seq_ = 1;
};

/// Result of appending one event.
struct append_result {
  uint64_t seq = 0;
  /// True if (source, id) was already stored within the dedup window; `seq` is
  /// then the original's.
  bool duplicate = false;
};

/// Selects runs for list_runs().
struct run_filter {
  std::string trigger;            // empty: any
  std::optional<run_state> state; // nullopt: any
  std::size_t limit = 100;
};

/// Sizes for metrics and `rouse status`.
struct store_stats {
  uint64_t events = 0;
  uint64_t runs = 0;
  uint64_t map_size_bytes = 0;
  uint64_t used_bytes = 0;
  uint64_t last_seq = 0;
  /// Times the store's mapped pages were released (store_options
  /// max_mapped_bytes).
  uint64_t map_trims = 0;
};

/// Thread safety: read functions may be called from any thread at any time
/// (each uses its own short read transaction). Write transactions must come
/// from one thread at a time; LMDB would serialize them anyway, and a second
/// writer thread would only block.
class store {
public:
  /// Opens (or creates) the environment and checks the schema version.
  static caf::expected<std::unique_ptr<store>> open(store_options opts);

  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // --- writes (one thread)
  // ----------------------------------------------------

  /// Starts a write transaction.
  caf::expected<write_txn> begin_write();

  /// Stores `ev` unless (source, id) is a duplicate within the window. Assigns
  /// ev.seq and ev.received_ns (= now_ns) for new events.
  caf::expected<append_result> append(write_txn& txn, event& ev,
                                      int64_t now_ns);

  /// Sets the checkpoint of `consumer` to `seq` if that is higher than the
  /// stored one.
  caf::error advance_checkpoint(write_txn& txn, std::string_view consumer,
                                uint64_t seq);

  /// Stores `run` if no run with its id exists; returns whether it was stored.
  caf::expected<bool> put_run_if_absent(write_txn& txn, const run_record& run);

  /// Stores `run`, replacing the previous record and updating the state index.
  caf::error put_run(write_txn& txn, const run_record& run);

  /// Stores the definition (JSON text) of the API-managed trigger `name`,
  /// replacing an earlier one.
  caf::error put_trigger(write_txn& txn, std::string_view name,
                         std::string_view definition);

  /// Removes the API-managed trigger `name`; returns whether it existed.
  caf::expected<bool> delete_trigger(write_txn& txn, std::string_view name);

  /// Stores `value` under `key` in `meta` (component state such as a cron
  /// source's ticks; keys other than "schema" only); an empty value removes
  /// the key. errc::invalid_input for an empty key, one over 400 bytes, or
  /// "schema".
  caf::error put_state(write_txn& txn, std::string_view key,
                       std::string_view value);

  /// Adds `delta` (runs and cost) to what budget key `delta.key` of trigger
  /// `trigger` spent in window `delta.window_ns`; what is stored for an
  /// earlier window is dropped first. Reads the usage inside `txn`, so charges
  /// in one transaction add up.
  caf::error charge_budget(write_txn& txn, std::string_view trigger,
                           const budget_usage& delta);

  /// Stores `usage` as what the key spent, replacing what was stored (a
  /// resume stores zero).
  caf::error put_budget(write_txn& txn, std::string_view trigger,
                        const budget_usage& usage);

  /// Stores `w` in `timers`, replacing a wakeup with the same (due, owner).
  /// errc::invalid_input for a negative due time, an empty owner or one longer
  /// than max_wakeup_owner_bytes.
  caf::error put_wakeup(write_txn& txn, const wakeup& w);

  /// Removes the wakeup `key`; returns whether it existed. errc::invalid_input
  /// for a key put_wakeup() would reject.
  caf::expected<bool> delete_wakeup(write_txn& txn, const wakeup_key& key);

  // --- reads (any thread)
  // -----------------------------------------------------

  caf::expected<std::optional<event>> get_event(uint64_t seq) const;

  /// Returns every stored event with this id (one per source), oldest first.
  caf::expected<std::vector<event>> find_events(std::string_view id) const;

  /// Returns up to `limit` events with seq >= from_seq, in seq order.
  caf::expected<std::vector<event>> read_events(uint64_t from_seq,
                                                std::size_t limit) const;

  caf::expected<std::optional<run_record>> get_run(std::string_view id) const;

  /// Returns runs matching `filter`, newest (highest event seq) first.
  caf::expected<std::vector<run_record>>
  list_runs(const run_filter& filter) const;

  /// Returns all runs currently in `state`.
  caf::expected<std::vector<run_record>> runs_in_state(run_state state) const;

  /// Returns the checkpoint of `consumer`, 0 if none.
  caf::expected<uint64_t> checkpoint(std::string_view consumer) const;

  /// Returns every (consumer, seq) checkpoint.
  caf::expected<std::vector<std::pair<std::string, uint64_t>>>
  checkpoints() const;

  /// Returns every stored (name, definition) of API-managed triggers, by name.
  caf::expected<std::vector<std::pair<std::string, std::string>>>
  triggers() const;

  /// Returns every (key, value) put_state() stored under a key starting with
  /// `prefix`, by key.
  caf::expected<std::vector<std::pair<std::string, std::string>>>
  states(std::string_view prefix) const;

  /// Returns the value put_state() stored under `key`, if any.
  caf::expected<std::optional<std::string>>
  get_state(std::string_view key) const;

  /// Returns what every budget key of `trigger` spent in its last window.
  caf::expected<std::vector<budget_usage>>
  budgets(std::string_view trigger) const;

  /// Returns the runs created for the event `seq` (one per trigger it fired).
  caf::expected<std::vector<run_record>> runs_for_event(uint64_t seq) const;

  /// Returns up to `limit` wakeups with key >= `from`, in key order.
  caf::expected<std::vector<wakeup>> read_wakeups(const wakeup_key& from,
                                                  std::size_t limit) const;

  /// Returns the number of stored wakeups.
  caf::expected<uint64_t> count_wakeups() const;

  /// Returns the highest committed seq (0 for an empty journal).
  uint64_t last_seq() const noexcept {
    return last_seq_.load(std::memory_order_acquire);
  }

  caf::expected<store_stats> stats() const;

  const store_options& options() const noexcept { return opts_; }

private:
  friend class write_txn;
  explicit store(store_options opts) : opts_(std::move(opts)) {}
  caf::error init();

  store_options opts_;
  MDB_env* env_ = nullptr;
  unsigned events_db_ = 0;
  unsigned ids_db_ = 0;
  unsigned checkpoints_db_ = 0;
  unsigned runs_db_ = 0;
  unsigned runs_by_state_db_ = 0;
  unsigned meta_db_ = 0;
  unsigned triggers_db_ = 0;
  unsigned timers_db_ = 0;
  std::atomic<uint64_t> last_seq_{0};
  /// After a top-level commit: releases the mapped pages when the process
  /// maps more than max_mapped_bytes of files (at most one check per 10 ms).
  void after_commit() noexcept;
  /// Calls `f(key, value)` for every key of `meta` starting with `prefix`, in
  /// key order, inside one read transaction.
  caf::error scan_meta(
      std::string_view prefix,
      const std::function<void(std::string_view, std::string_view)>& f) const;
  /// Counts a write (event, wakeup); every 256th checks the mapped size.
  void note_write() noexcept;
  /// Releases the mapped pages if the process maps more than
  /// max_mapped_bytes of files.
  void release_map_if_over() noexcept;
  uint32_t writes_since_check_ = 0; // the writer thread's only
  int64_t next_map_check_ns_ = 0;   // steady clock; the writer thread's only
  void* map_base_ = nullptr;        // LMDB's map, found at open (or null)
  std::size_t map_len_ = 0;
  std::atomic<uint64_t> map_trims_{0};
};

} // namespace rouse::store
