// Spawns one child for the process runner: stdio pipes, its own process group,
// default signal handling and a pidfd. Internal to runtime/exec.
#pragma once

#include "runtime/exec/process_runner.hpp"

#include <caf/expected.hpp>

#include <string>
#include <utility>

namespace rouse::exec::detail {

/// Owns a file descriptor and closes it on destruction.
class unique_fd {
public:
  unique_fd() noexcept = default;

  explicit unique_fd(int fd) noexcept : fd_(fd) {}

  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other)
      reset(std::exchange(other.fd_, -1));
    return *this;
  }

  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;

  ~unique_fd() { reset(); }

  /// Returns the descriptor, -1 if none.
  int get() const noexcept { return fd_; }

  explicit operator bool() const noexcept { return fd_ >= 0; }

  /// Closes the current descriptor (if any) and takes `fd`.
  void reset(int fd = -1) noexcept;

  /// Gives up ownership without closing; returns the descriptor.
  int release() noexcept { return std::exchange(fd_, -1); }

private:
  int fd_ = -1;
};

/// A child just spawned; all descriptors are close-on-exec and the pipe ends
/// are non-blocking.
struct spawned_child {
  /// The child's pid, also its process group id.
  int pid = -1;
  /// Readable once the child exited; also what to wait on.
  unique_fd pidfd;
  /// Write end of the child's stdin.
  unique_fd stdin_fd;
  /// Read ends of the child's stdout and stderr.
  unique_fd stdout_fd;
  unique_fd stderr_fd;
};

/// Spawns `spec` (only argv, env, inherit_env and cwd matter here). Returns
/// errc::spawn_failed with "spawn <argv0>: <reason>" if no process runs; a
/// half-started child is killed and reaped before returning.
caf::expected<spawned_child> spawn_child(const process_spec& spec);

/// Returns the text of errno value `err`, e.g. "No such file or directory".
std::string errno_text(int err);

} // namespace rouse::exec::detail
