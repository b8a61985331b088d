// Spawns one child with posix_spawnp: stdio pipes, a process group of its
// own, a clean signal mask and default dispositions, and no descriptors of
// ours beyond stdin, stdout and stderr.
#include "runtime/exec/spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

extern char** environ;

namespace rouse::exec::detail {

void unique_fd::reset(int fd) noexcept {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = fd;
}

std::string errno_text(int err) {
  char buf[256];
  // GNU strerror_r: returns a pointer to the text, which may not be `buf`.
  return ::strerror_r(err, buf, sizeof buf);
}

namespace {

caf::error spawn_error(const process_spec& spec, const std::string& what) {
  return make_error(errc::spawn_failed, "spawn " + spec.argv[0] + ": " + what);
}

/// Returns the key of a "KEY=VALUE" entry (all of it if there is no '=').
std::string_view key_of(std::string_view entry) {
  return entry.substr(0, entry.find('='));
}

/// Moves `fd` to a number >= 3, so that the child's dup2 onto 0-2 can never
/// overwrite another pipe end (possible when this process closed its stdio).
/// Returns -1 with errno set on failure; `fd` is consumed either way.
int lift_fd(int fd) {
  if (fd >= 3)
    return fd;
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int err = errno;
  ::close(fd);
  errno = err;
  return moved;
}

/// Creates a close-on-exec pipe with both ends >= 3; returns an errno or 0.
int make_pipe(unique_fd& read_end, unique_fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return errno;
  read_end.reset(lift_fd(fds[0]));
  int err = errno;
  write_end.reset(lift_fd(fds[1]));
  if (!read_end)
    return err;
  if (!write_end)
    return errno;
  return 0;
}

/// Returns an errno or 0.
int set_nonblocking(const unique_fd& fd) {
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0)
    return errno;
  return 0;
}

/// Returns the child's environment: the inherited one (unless disabled)
/// with entries of `spec.env` replacing those with the same key.
std::vector<std::string> build_env(const process_spec& spec) {
  std::vector<std::string> result;
  auto overridden = [&](std::string_view entry) {
    auto key = key_of(entry);
    for (const auto& e : spec.env)
      if (key_of(e) == key)
        return true;
    return false;
  };
  if (spec.inherit_env && environ != nullptr)
    for (char** p = environ; *p != nullptr; ++p)
      if (!overridden(*p))
        result.emplace_back(*p);
  for (std::size_t i = 0; i < spec.env.size(); ++i) {
    auto key = key_of(spec.env[i]);
    bool repeated_later = false;
    for (std::size_t j = i + 1; j < spec.env.size() && !repeated_later; ++j)
      repeated_later = key_of(spec.env[j]) == key;
    if (!repeated_later)
      result.push_back(spec.env[i]);
  }
  return result;
}

/// Returns a null-terminated array of pointers into `xs`.
std::vector<char*> c_array(const std::vector<std::string>& xs) {
  std::vector<char*> result;
  result.reserve(xs.size() + 1);
  for (const auto& x : xs)
    result.push_back(const_cast<char*>(x.c_str()));
  result.push_back(nullptr);
  return result;
}

/// Owns posix_spawn file actions.
struct file_actions {
  posix_spawn_file_actions_t value;
  int init_error = posix_spawn_file_actions_init(&value);
  ~file_actions() {
    if (init_error == 0)
      posix_spawn_file_actions_destroy(&value);
  }
};

/// Owns posix_spawn attributes.
struct spawn_attributes {
  posix_spawnattr_t value;
  int init_error = posix_spawnattr_init(&value);
  ~spawn_attributes() {
    if (init_error == 0)
      posix_spawnattr_destroy(&value);
  }
};

/// Fills `attr`: own process group, empty signal mask, every catchable
/// signal at its default (so SIGPIPE kills a writer to a closed pipe, even if
/// this process ignores it). Returns an errno or 0.
int setup_attributes(spawn_attributes& attr) {
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  short flags =
      POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  int rc = attr.init_error;
  if (rc == 0)
    rc = posix_spawnattr_setflags(&attr.value, flags);
  if (rc == 0)
    rc = posix_spawnattr_setpgroup(&attr.value, 0);
  if (rc == 0)
    rc = posix_spawnattr_setsigmask(&attr.value, &none);
  if (rc == 0)
    rc = posix_spawnattr_setsigdefault(&attr.value, &all);
  return rc;
}

/// Kills and reaps a child that must not live on.
void discard(int pid) {
  ::kill(-pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

} // namespace

caf::expected<spawned_child> spawn_child(const process_spec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty())
    return make_error(errc::spawn_failed, "spawn: empty argv");
  for (const auto& e : spec.env)
    if (e.find('=') == std::string::npos || e.front() == '=')
      return spawn_error(spec,
                         "invalid env entry '" + e + "' (want KEY=VALUE)");
  unique_fd dir;
  if (!spec.cwd.empty()) {
    dir.reset(::open(spec.cwd.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir)
      return spawn_error(spec, "cwd " + spec.cwd + ": " + errno_text(errno));
  }
  unique_fd in_read, in_write, out_read, out_write, err_read, err_write;
  int err = make_pipe(in_read, in_write);
  if (err == 0)
    err = make_pipe(out_read, out_write);
  if (err == 0)
    err = make_pipe(err_read, err_write);
  if (err != 0)
    return spawn_error(spec, "pipe: " + errno_text(err));
  // The order matters: chdir before closefrom closes the directory fd.
  file_actions actions;
  int rc = actions.init_error;
  if (rc == 0 && dir)
    rc = posix_spawn_file_actions_addfchdir_np(&actions.value, dir.get());
  if (rc == 0)
    rc = posix_spawn_file_actions_adddup2(&actions.value, in_read.get(), 0);
  if (rc == 0)
    rc = posix_spawn_file_actions_adddup2(&actions.value, out_write.get(), 1);
  if (rc == 0)
    rc = posix_spawn_file_actions_adddup2(&actions.value, err_write.get(), 2);
  if (rc == 0)
    rc = posix_spawn_file_actions_addclosefrom_np(&actions.value, 3);
  spawn_attributes attr;
  if (rc == 0)
    rc = setup_attributes(attr);
  if (rc != 0)
    return spawn_error(spec, "posix_spawn setup: " + errno_text(rc));
  auto env = build_env(spec);
  auto argv_ptrs = c_array(spec.argv);
  auto env_ptrs = c_array(env);
  pid_t pid = -1;
  rc = posix_spawnp(&pid, spec.argv[0].c_str(), &actions.value, &attr.value,
                    argv_ptrs.data(), env_ptrs.data());
  if (rc != 0)
    return spawn_error(spec, errno_text(rc));
  spawned_child child;
  child.pid = pid;
  child.pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!child.pidfd) {
    err = errno;
    discard(pid);
    return spawn_error(spec, "pidfd_open: " + errno_text(err));
  }
  child.stdin_fd = std::move(in_write);
  child.stdout_fd = std::move(out_read);
  child.stderr_fd = std::move(err_read);
  err = set_nonblocking(child.stdin_fd);
  if (err == 0)
    err = set_nonblocking(child.stdout_fd);
  if (err == 0)
    err = set_nonblocking(child.stderr_fd);
  if (err != 0) {
    discard(pid);
    return spawn_error(spec, "fcntl: " + errno_text(err));
  }
  return child;
}

} // namespace rouse::exec::detail
