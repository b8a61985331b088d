// The process runner behind the exec handler: spawns handler processes with
// piped stdio in their own process groups and supervises them (output caps,
// timeouts, cancellation, reaping) on one thread. The thread and queue live
// in process_runner.cpp, per-child work in supervisor.cpp, posix_spawn in
// spawn.cpp, the registry of live children and kill_leftovers() in
// registry.cpp.
#pragma once

#include "messages/errc.hpp"

#include <caf/expected.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace rouse::exec {

/// What to run and under which limits.
struct process_spec {
  /// The program and its arguments; never run through a shell. argv[0] is
  /// searched in the runner's PATH unless it contains a '/'; a relative path
  /// with a '/' resolves against `cwd`.
  std::vector<std::string> argv;
  /// "KEY=VALUE" entries added to the inherited environment, replacing
  /// entries with the same key (the last of duplicates wins). An entry
  /// without '=' or with an empty key is a spawn failure.
  std::vector<std::string> env;
  /// True: the child starts from the runner's environment. False: the child
  /// gets only `env` (PATH lookup of argv[0] still uses the runner's PATH).
  bool inherit_env = true;
  /// Working directory of the child; empty keeps the runner's. A missing or
  /// unreadable directory is a spawn failure.
  std::string cwd;
  /// Written to the child's stdin without blocking the runner, then stdin is
  /// closed. Any size works; if the child exits or closes stdin early, the
  /// rest is dropped silently.
  std::string stdin_data;
  /// Wall-clock limit from spawn to exit; 0 means none. On expiry the child's
  /// process group gets SIGTERM, so grandchildren are reached too.
  std::chrono::milliseconds timeout{0};
  /// After the timeout's SIGTERM, how long the group has before SIGKILL. A
  /// timed-out run's group also gets SIGKILL when the run completes, so no
  /// stragglers outlive it. 0 sends SIGKILL right after SIGTERM.
  std::chrono::milliseconds kill_grace{5000};
  /// Cap per output stream, in bytes. Output past it is read and discarded,
  /// so the child never blocks on a full pipe; the *_truncated flag is set.
  std::size_t max_output_bytes = 64 * 1024;
  /// Chosen by the caller (a run id, say) to name the run in
  /// process_runner::cancel() and in the registry; several runs may share
  /// one. Empty: the run cannot be cancelled.
  std::string tag;
};

/// What happened to one process_spec.
struct process_result {
  /// The child's pid; -1 if it never started.
  int pid = -1;
  /// Exit status; -1 when killed by a signal, never started or unknown.
  int exit_code = -1;
  /// The signal that ended the process, 0 if none.
  int term_signal = 0;
  /// True if the timeout expired and the group was signalled.
  bool timed_out = false;
  /// True if process_runner::cancel() ended the run: before it spawned (then
  /// `pid` is -1 and `spawn_failed` false) or by signalling its group.
  bool cancelled = false;
  /// True if no process ran because of a spawn error, overload or a stopped
  /// runner (a run cancelled before it spawned has `cancelled` instead).
  bool spawn_failed = false;
  /// Human-readable reason, empty for a normal exit (even a non-zero one):
  /// "spawn ./x: No such file or directory", "timeout after 2s (SIGTERM)",
  /// "timeout after 2s (SIGTERM, SIGKILL after 5s grace)", "runner stopped",
  /// "cancelled: <reason>" (before spawning), "cancelled: <reason>
  /// (SIGTERM)", "cancelled: <reason> (SIGTERM, SIGKILL after 5s grace)";
  /// "cancelled" alone stands for "cancelled: " with an empty reason.
  std::string error;
  /// The same reason for programs: errc::spawn_failed (spawn or setup
  /// failed), errc::overloaded (max_processes reached; retry later) or
  /// errc::shutting_down (the runner stopped first); none for an exit of
  /// any code, for timeouts and for cancellation (see `timed_out` and
  /// `cancelled`).
  caf::error cause;
  /// Captured output, each at most max_output_bytes long.
  std::string stdout_text;
  std::string stderr_text;
  /// True if the stream produced more than max_output_bytes.
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  /// When the spawn was attempted and when the result was complete, in
  /// system_clock nanoseconds since the epoch.
  int64_t started_ns = 0;
  int64_t finished_ns = 0;
};

/// Limits of one process_runner.
struct runner_options {
  /// Processes accepted but not completed (queued or running) at most;
  /// start() beyond this completes at once with errc::overloaded. Each
  /// running child holds up to 4 descriptors in this process, so a high value
  /// needs a matching RLIMIT_NOFILE (a spawn past it fails with EMFILE).
  std::size_t max_processes = 256;
  /// Directory of the child registry; empty (the default) turns it off. Set,
  /// the runner writes a file `<registry_dir>/<pid>` for each spawned child
  /// (boot id, start time, tag) and removes it once the child is reaped, so
  /// kill_leftovers() can kill the children of a rouse that was SIGKILLed.
  /// Costs a few file operations per spawn, no fsync. The runner creates the
  /// directory and holds a lock on it while it lives; if that fails, or a
  /// child's file cannot be written, spawns fail with errc::spawn_failed
  /// (the child is killed), rather than run a child a crash could leave
  /// behind.
  std::string registry_dir;
};

/// A process that kill_leftovers() killed.
struct leftover_process {
  /// Its pid, also the id of the process group that was killed.
  int pid = -1;
  /// The tag of the process_spec it was started with.
  std::string tag;
  /// True if it had exited when kill_leftovers() returned; false if it
  /// outlived the wait (say, stuck in uninterruptible I/O).
  bool gone = false;
};

/// Kills the children that an earlier runner with the same `registry_dir`
/// left behind when its process died without reaping them (SIGKILL, a
/// crash), so they do not overlap with re-runs. Call it at startup, before
/// the process_runner with this `registry_dir` exists.
///
/// Creates the directory if missing. For each file in it, whose name is the
/// pid: if the boot id and the process's start time (from /proc/<pid>/stat)
/// are those recorded, the process is still the child the file describes,
/// and its process group and the process itself get SIGKILL. Then waits up
/// to 2 s for the killed processes to exit. Every file is removed; malformed
/// ones, and those of processes that are gone or were replaced by another
/// process with the same pid, are removed without killing anything. These
/// processes are no children of ours (they were reparented), so they are
/// watched through pidfds, not reaped.
///
/// Returns the killed processes, empty if `registry_dir` is empty; or
/// errc::spawn_failed if the directory cannot be created, read or locked
/// (a live process_runner holds the lock) or the boot id cannot be read.
caf::expected<std::vector<leftover_process>>
kill_leftovers(const std::string& registry_dir);

/// Runs processes and reports each one's result through a callback.
///
/// One runner thread, started by the constructor, does everything after
/// start() returns: spawning (posix_spawnp), stdin writes, output reads,
/// timeouts and reaping, all multiplexed over epoll with a pidfd per child,
/// so no step blocks on a single child. The runner only ever waits for its
/// own children (never waitpid(-1)), so other code may own children too.
///
/// A run completes once its process exited and both output pipes reached EOF,
/// or 100 ms after the exit if a leftover grandchild still holds a pipe (the
/// pipes are then closed; the grandchild is left alone unless the run timed
/// out).
///
/// cancel() ends runs by tag: a run still queued completes without spawning;
/// a running process's group gets SIGTERM and, kill_grace later, SIGKILL,
/// just as on a timeout.
///
/// With runner_options::registry_dir set, each child is recorded in a file
/// from spawn until it is reaped (see kill_leftovers()).
///
/// Thread safety: start(), cancel() and running() may be called from any
/// thread, concurrently, and from inside a completion. The constructor and
/// destructor must not race with other calls, and the destructor must not run
/// inside a completion. Completions run one at a time on the runner thread; a
/// slow completion delays every other run, so hand heavy work elsewhere.
class process_runner {
public:
  /// Called exactly once per start() with the result; must not throw.
  using completion = std::function<void(process_result)>;

  /// Starts the runner thread. If that or its epoll setup fails, every
  /// start() completes at once, on the calling thread, with spawn_failed.
  explicit process_runner(runner_options opts = {});

  /// SIGKILLs the process group of every child still running, reaps them,
  /// completes them (and anything still queued) with "runner stopped", and
  /// joins the runner thread.
  ~process_runner();

  process_runner(const process_runner&) = delete;
  process_runner& operator=(const process_runner&) = delete;

  /// Starts a process for `spec`; `done` is called exactly once, on the
  /// runner thread, also for spawn failures and overload. An empty
  /// `done` discards the result.
  void start(process_spec spec, completion done);

  /// Cancels every run whose spec has `tag`: one still queued completes on
  /// the runner thread with `cancelled`, exit_code -1 and error
  /// "cancelled: <reason>" without spawning; the process group of a running
  /// one gets SIGTERM and, if it still runs kill_grace later, SIGKILL, and it
  /// completes with `cancelled` and an error like that of a timeout
  /// ("cancelled: <reason> (SIGTERM)"). A run that already exited or is
  /// being ended by its timeout is left alone, as is every run if `tag` is
  /// empty.
  ///
  /// Returns true if a run with `tag` was accepted and not completed when
  /// called (it still completes normally if it ends before the runner thread
  /// acts); false if there was none, so nothing changes.
  bool cancel(const std::string& tag, std::string reason);

  /// Returns how many processes were accepted and are not completed yet
  /// (queued for spawning or running).
  std::size_t running() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace rouse::exec
