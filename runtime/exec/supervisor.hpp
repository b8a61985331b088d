// The supervisor: every live child of a process_runner on one epoll instance
// (pipes, pidfd, deadlines, cancellation), from spawn to completion. Internal
// to runtime/exec; the thread, queue and wakeups live in process_runner.cpp.
#pragma once

#include "runtime/exec/process_runner.hpp"
#include "runtime/exec/registry.hpp"
#include "runtime/exec/spawn.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace rouse::exec::detail {

struct child;

/// Returns system_clock nanoseconds since the epoch.
int64_t wall_ns();

/// Completes `done` for a spec that never ran (spawn_failed, with `err`).
void complete_unstarted(const process_runner::completion& done, caf::error err,
                        int64_t started_ns);

/// Returns "cancelled: <reason>", or "cancelled" for an empty reason.
std::string cancel_text(const std::string& reason);

/// Completes `done` for a spec cancelled before it spawned.
void complete_cancelled(const process_runner::completion& done,
                        const std::string& reason, int64_t started_ns);

/// Tracks spawned children on an epoll instance shared with its owner.
///
/// Not thread-safe: every call comes from the runner thread. Its epoll keys
/// are at least `first_key`; smaller keys are free for the owner. Each child
/// completes exactly once, after `admitted` was decremented for it and its
/// entry in `registry` (which must outlive this) was removed.
class supervisor {
public:
  /// The smallest epoll key this class registers.
  static constexpr uint64_t first_key = 8;

  using steady = std::chrono::steady_clock;

  supervisor(int epoll_fd, std::atomic<std::size_t>& admitted,
             const child_registry& registry);

  ~supervisor();

  supervisor(const supervisor&) = delete;
  supervisor& operator=(const supervisor&) = delete;

  /// Spawns `spec` and starts watching it; an admitted spec that cannot
  /// start completes at once.
  void launch(process_spec spec, process_runner::completion done);

  /// Sends SIGTERM to the group of every child tagged `tag` that has neither
  /// exited nor been signalled yet, and SIGKILL after its kill_grace; they
  /// complete with `cancelled` and cancel_text(reason).
  void cancel(const std::string& tag, const std::string& reason);

  /// Handles a readiness event for a key this class registered.
  void on_event(uint64_t key);

  /// Acts on every deadline at or before `now`: timeouts, kill grace, drain.
  void on_deadlines(steady::time_point now);

  /// Returns milliseconds until the nearest deadline (rounded up), 0 if one
  /// passed, -1 if there is none.
  int next_timeout_ms(steady::time_point now) const;

  /// SIGKILLs every child's group, reaps each child and completes it with
  /// `cause`. Blocks until all are reaped.
  void stop_all(const caf::error& cause);

private:
  enum class channel : uint64_t;

  void on_exit(child& c);
  void read_output(child& c, channel ch);
  void on_stdin(child& c);
  void on_deadline(child& c, steady::time_point now);
  void terminate(child& c, steady::time_point now, std::string why);
  bool watch(const unique_fd& fd, uint64_t key, uint32_t events);
  void unwatch(unique_fd& fd);
  void maybe_finish(child& c);
  void finish(child& c, caf::error cause = {});

  int epoll_fd_;
  std::atomic<std::size_t>& admitted_;
  const child_registry& registry_;
  std::unordered_map<uint64_t, std::unique_ptr<child>> children_;
  uint64_t next_id_ = 1;
  std::vector<char> scratch_;
};

} // namespace rouse::exec::detail
