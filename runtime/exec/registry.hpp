// The child registry: one small file per live child of a process runner, so
// that a restarted rouse can find and kill the handler processes of a rouse
// that was SIGKILLed (kill_leftovers() in registry.cpp). Internal to
// runtime/exec, except that tests write entries with write_registry_file().
#pragma once

#include "runtime/exec/spawn.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rouse::exec::detail {

/// What a registry file says about one child. The file's name is the pid.
struct registry_entry {
  /// /proc/sys/kernel/random/boot_id when the child was spawned: a pid and
  /// start time from another boot say nothing about this one.
  std::string boot_id;
  /// Field 22 of /proc/<pid>/stat, in clock ticks since boot: tells the
  /// child apart from a later process that got the same pid.
  uint64_t start_time = 0;
  /// The process_spec's tag; may be empty and may hold any bytes.
  std::string tag;
};

/// What /proc/<pid>/stat says about a process.
struct proc_stat {
  /// 'R', 'S', 'Z' (zombie) ...
  char state = '?';
  uint64_t start_time = 0;
};

/// Returns the id of the running boot, without the trailing newline.
caf::expected<std::string> read_boot_id();

/// Returns the state and start time of `pid`; none if there is no such
/// process or its stat line cannot be parsed.
std::optional<proc_stat> read_proc_stat(int pid);

/// Returns the file's text for `entry`: a format line, the boot id, the start
/// time and the tag, each ended by a newline.
std::string format_registry_entry(const registry_entry& entry);

/// Returns the entry in `text`; none if it is not exactly what
/// format_registry_entry() writes.
std::optional<registry_entry> parse_registry_entry(std::string_view text);

/// Writes `<dir>/<pid>` through a temporary file and rename(), so a crash
/// never leaves a half-written entry under the final name. No fsync: the page
/// cache survives a killed rouse, and a power cut ends the children too.
/// Returns errc::spawn_failed with "registry <path>: <reason>" on failure.
caf::error write_registry_file(const std::string& dir, int pid,
                               const registry_entry& entry);

/// The process runner's side of the registry: writes an entry per spawned
/// child and removes it once the child is reaped.
///
/// Holds an exclusive flock on `<dir>/.lock` while open, so no other runner
/// and no kill_leftovers() uses the same directory meanwhile (kill_leftovers()
/// would kill this runner's live children). Not thread-safe; const calls
/// may run concurrently.
class child_registry {
public:
  /// A disabled registry: add() and remove() do nothing.
  child_registry() = default;

  /// Opens `dir`, creating it if missing, and locks it; returns
  /// errc::spawn_failed if that fails or another process holds the lock.
  static caf::expected<child_registry> open(const std::string& dir);

  /// Returns true if entries are written.
  bool enabled() const noexcept { return !dir_.empty(); }

  /// Records `pid`, which must be an unreaped child of this process (so its
  /// pid and start time cannot change meanwhile), with `tag`.
  caf::error add(int pid, const std::string& tag) const;

  /// Removes the entry of `pid`, if any.
  void remove(int pid) const;

private:
  std::string dir_;
  std::string boot_id_;
  unique_fd lock_;
};

} // namespace rouse::exec::detail
