// Supervises spawned children: reads capped output, writes stdin without
// blocking, enforces timeouts and cancellation on the process group, notices
// exits through pidfds, reaps only its own children and keeps the registry
// (registry.cpp) of them.
#include "runtime/exec/supervisor.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <climits>
#include <optional>
#include <string>

namespace rouse::exec::detail {

namespace {

using steady = supervisor::steady;

/// How long a run may keep its output pipes open after its process exited:
/// a background grandchild holding them must not keep the run alive.
constexpr auto drain_after_exit = std::chrono::milliseconds{100};

/// Bytes per read() and write() call: one default pipe buffer.
constexpr std::size_t io_chunk_bytes = 64 * 1024;

/// Reads per readiness event, so one chatty child cannot starve the others.
constexpr int max_reads_per_event = 4;

constexpr uint64_t channel_bits = 3;
constexpr uint64_t channel_mask = (uint64_t{1} << channel_bits) - 1;

/// Returns `now + d`, saturated at the clock's end; negative `d` counts as 0.
steady::time_point deadline_after(steady::time_point now,
                                  std::chrono::milliseconds d) {
  // Compared in milliseconds: converting a huge `d` to the clock's
  // nanoseconds would overflow.
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      steady::time_point::max() - now);
  if (d.count() <= 0)
    return now;
  if (d >= left)
    return steady::time_point::max();
  return now + d;
}

/// Returns "2s" or "1500ms".
std::string format_duration(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0)
    return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

/// Discards SIGPIPE raised by a write to a closed pipe. The runner thread
/// blocks it, so it stays pending on this thread until taken here.
void consume_sigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  timespec zero{0, 0};
  while (::sigtimedwait(&set, nullptr, &zero) > 0) {
  }
}

/// Copies the exit status in `info` (from waitid) to `result`.
void record_status(process_result& result, const siginfo_t& info) {
  if (info.si_code == CLD_EXITED)
    result.exit_code = info.si_status;
  else if (info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED)
    result.term_signal = info.si_status;
}

} // namespace

/// What an epoll registration watches: the low bits of its key; the bits
/// above them hold the child's id (from 1, so keys are >= first_key).
enum class supervisor::channel : uint64_t {
  exited = 1,
  out = 2,
  err = 3,
  in = 4,
};

/// One spawned child and everything known about it so far.
struct child {
  uint64_t id = 0;
  process_spec spec;
  process_runner::completion done;
  process_result result;
  spawned_child proc;
  std::size_t stdin_written = 0;
  /// The process exited; it stays a zombie (pinning its process group id, so
  /// signalling the group stays safe) until finish() reaps it.
  bool exited = false;
  /// Reaped, here or by someone else: its pid is no longer ours to signal.
  bool reaped = false;
  std::optional<steady::time_point> timeout_at;
  std::optional<steady::time_point> grace_at;
  std::optional<steady::time_point> drain_at;
  /// Why the group got SIGTERM ("timeout after 2s", "cancelled: ..."); empty
  /// until then.
  std::string stop_reason;

  std::optional<steady::time_point> next_deadline() const {
    std::optional<steady::time_point> next;
    for (const auto& t : {timeout_at, grace_at, drain_at})
      if (t && (!next || *t < *next))
        next = t;
    return next;
  }

  /// Waits for the process to end (at once if it exited) and reaps it.
  void reap() {
    siginfo_t info{};
    int rc;
    do {
      rc = ::waitid(P_PIDFD, proc.pidfd.get(), &info, WEXITED);
    } while (rc != 0 && errno == EINTR);
    if (rc == 0 && !exited)
      record_status(result, info);
    reaped = true;
    exited = true;
  }
};

int64_t wall_ns() {
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch)
      .count();
}

void complete_unstarted(const process_runner::completion& done, caf::error err,
                        int64_t started_ns) {
  process_result result;
  result.spawn_failed = true;
  result.error = describe(err);
  result.cause = std::move(err);
  result.started_ns = started_ns;
  result.finished_ns = wall_ns();
  if (done)
    done(std::move(result));
}

std::string cancel_text(const std::string& reason) {
  return reason.empty() ? "cancelled" : "cancelled: " + reason;
}

void complete_cancelled(const process_runner::completion& done,
                        const std::string& reason, int64_t started_ns) {
  process_result result;
  result.cancelled = true;
  result.error = cancel_text(reason);
  result.started_ns = started_ns;
  result.finished_ns = wall_ns();
  if (done)
    done(std::move(result));
}

supervisor::supervisor(int epoll_fd, std::atomic<std::size_t>& admitted,
                       const child_registry& registry)
    : epoll_fd_(epoll_fd), admitted_(admitted), registry_(registry),
      scratch_(io_chunk_bytes) {}

supervisor::~supervisor() {
  assert(children_.empty()); // the owner calls stop_all() first
}

void supervisor::launch(process_spec spec, process_runner::completion done) {
  auto started_ns = wall_ns();
  auto spawned = spawn_child(spec);
  if (!spawned) {
    admitted_.fetch_sub(1);
    complete_unstarted(done, std::move(spawned.error()), started_ns);
    return;
  }
  auto owned = std::make_unique<child>();
  auto& c = *owned;
  c.id = next_id_++;
  c.spec = std::move(spec);
  c.done = std::move(done);
  c.proc = std::move(*spawned);
  c.result.pid = c.proc.pid;
  c.result.started_ns = started_ns;
  children_.emplace(c.id, std::move(owned));
  if (c.spec.stdin_data.empty())
    c.proc.stdin_fd.reset();
  auto key = [&c](channel ch) {
    return c.id << channel_bits | static_cast<uint64_t>(ch);
  };
  bool ok = watch(c.proc.pidfd, key(channel::exited), EPOLLIN)
            && watch(c.proc.stdout_fd, key(channel::out), EPOLLIN)
            && watch(c.proc.stderr_fd, key(channel::err), EPOLLIN)
            && (!c.proc.stdin_fd
                || watch(c.proc.stdin_fd, key(channel::in), EPOLLOUT));
  if (!ok) {
    auto what = "spawn " + c.spec.argv[0] + ": epoll_ctl: " + errno_text(errno);
    c.result.spawn_failed = true;
    finish(c, make_error(errc::spawn_failed, std::move(what)));
    return;
  }
  // Written while the child is unreaped, so its pid and start time are its
  // own. A child that could not be recorded is killed: a crash would leave it
  // running where kill_leftovers() cannot find it.
  if (auto err = registry_.add(c.result.pid, c.spec.tag)) {
    c.result.spawn_failed = true;
    finish(c, make_error(errc::spawn_failed,
                         "spawn " + c.spec.argv[0] + ": " + describe(err)));
    return;
  }
  if (c.spec.timeout.count() > 0)
    c.timeout_at = deadline_after(steady::now(), c.spec.timeout);
}

void supervisor::cancel(const std::string& tag, const std::string& reason) {
  if (tag.empty())
    return;
  auto now = steady::now();
  for (auto& [id, c] : children_) {
    if (c->spec.tag != tag || c->exited || !c->stop_reason.empty())
      continue;
    c->result.cancelled = true;
    terminate(*c, now, cancel_text(reason));
  }
}

void supervisor::on_event(uint64_t key) {
  auto i = children_.find(key >> channel_bits);
  if (i == children_.end())
    return; // finished earlier in the same batch of events
  auto& c = *i->second;
  auto ch = static_cast<channel>(key & channel_mask);
  switch (ch) {
  case channel::exited: on_exit(c); break;
  case channel::out:
  case channel::err:
    read_output(c, ch);
    maybe_finish(c);
    break;
  case channel::in: on_stdin(c); break;
  }
}

void supervisor::on_deadlines(steady::time_point now) {
  std::vector<uint64_t> due;
  for (const auto& [id, c] : children_)
    if (auto t = c->next_deadline(); t && *t <= now)
      due.push_back(id);
  for (auto id : due)
    if (auto i = children_.find(id); i != children_.end())
      on_deadline(*i->second, now);
}

int supervisor::next_timeout_ms(steady::time_point now) const {
  std::optional<steady::time_point> next;
  for (const auto& [id, c] : children_)
    if (auto t = c->next_deadline(); t && (!next || *t < *next))
      next = t;
  if (!next)
    return -1;
  if (*next <= now)
    return 0;
  // Round up: waking early would only spin until the deadline.
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
  return static_cast<int>(std::min<decltype(ms)>(ms, INT_MAX));
}

void supervisor::stop_all(const caf::error& cause) {
  for (auto& [id, c] : children_)
    if (!c->reaped)
      ::kill(-c->result.pid, SIGKILL);
  while (!children_.empty())
    finish(*children_.begin()->second, cause);
}

void supervisor::on_exit(child& c) {
  siginfo_t info{};
  int rc;
  do {
    rc = ::waitid(P_PIDFD, c.proc.pidfd.get(), &info,
                  WEXITED | WNOHANG | WNOWAIT);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    // ECHILD: someone else reaped it (a waitpid(-1) elsewhere, or SIGCHLD
    // set to SIG_IGN); the status is lost.
    c.reaped = true;
    c.result.error = "exit status unavailable: " + errno_text(errno);
  } else if (info.si_pid == 0) {
    return; // not exited yet
  } else {
    record_status(c.result, info);
  }
  // The pidfd stays open (finish() reaps through it) but stays readable.
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.proc.pidfd.get(), nullptr);
  c.exited = true;
  c.timeout_at.reset();
  c.grace_at.reset();
  c.drain_at = steady::now() + drain_after_exit;
  maybe_finish(c);
}

void supervisor::read_output(child& c, channel ch) {
  bool is_out = ch == channel::out;
  auto& fd = is_out ? c.proc.stdout_fd : c.proc.stderr_fd;
  auto& text = is_out ? c.result.stdout_text : c.result.stderr_text;
  auto& truncated =
      is_out ? c.result.stdout_truncated : c.result.stderr_truncated;
  auto cap = c.spec.max_output_bytes;
  for (int reads = 0; fd && reads < max_reads_per_event; ++reads) {
    auto n = ::read(fd.get(), scratch_.data(), scratch_.size());
    if (n > 0) {
      auto room = cap - std::min(cap, text.size());
      auto size = static_cast<std::size_t>(n);
      text.append(scratch_.data(), std::min(room, size));
      truncated = truncated || size > room;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return;
    } else {
      unwatch(fd); // EOF, or an error that ends the stream just the same
    }
  }
}

void supervisor::on_stdin(child& c) {
  const auto& data = c.spec.stdin_data;
  while (c.stdin_written < data.size()) {
    auto size = std::min(io_chunk_bytes, data.size() - c.stdin_written);
    auto n =
        ::write(c.proc.stdin_fd.get(), data.data() + c.stdin_written, size);
    if (n >= 0) {
      c.stdin_written += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN)
      return;
    // EPIPE: the child closed stdin or exited; the rest is not wanted.
    if (errno == EPIPE)
      consume_sigpipe();
    break;
  }
  unwatch(c.proc.stdin_fd);
  std::string{}.swap(c.spec.stdin_data);
}

void supervisor::on_deadline(child& c, steady::time_point now) {
  if (c.drain_at && *c.drain_at <= now) {
    read_output(c, channel::out);
    read_output(c, channel::err);
    finish(c);
    return;
  }
  if (c.grace_at && *c.grace_at <= now) {
    c.grace_at.reset();
    ::kill(-c.result.pid, SIGKILL);
    c.result.error = c.stop_reason + " (SIGTERM, SIGKILL after "
                     + format_duration(c.spec.kill_grace) + " grace)";
  }
  if (c.timeout_at && *c.timeout_at <= now) {
    c.result.timed_out = true;
    terminate(c, now, "timeout after " + format_duration(c.spec.timeout));
  }
}

void supervisor::terminate(child& c, steady::time_point now, std::string why) {
  // Only before the exit: the unreaped child pins its group id, so the
  // signal cannot reach a group that reused it.
  assert(!c.exited);
  c.timeout_at.reset();
  ::kill(-c.result.pid, SIGTERM);
  c.stop_reason = std::move(why);
  c.result.error = c.stop_reason + " (SIGTERM)";
  c.grace_at = deadline_after(now, c.spec.kill_grace);
}

bool supervisor::watch(const unique_fd& fd, uint64_t key, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = key;
  return ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd.get(), &ev) == 0;
}

void supervisor::unwatch(unique_fd& fd) {
  // Deregister explicitly: a fork elsewhere in the process may hold a copy
  // of the descriptor, which would keep a mere close() from removing it.
  if (fd)
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd.get(), nullptr);
  fd.reset();
}

void supervisor::maybe_finish(child& c) {
  if (c.exited && !c.proc.stdout_fd && !c.proc.stderr_fd)
    finish(c);
}

void supervisor::finish(child& c, caf::error cause) {
  if (!c.reaped) {
    // The unreaped leader pins the group id, so this reaches only our group:
    // stragglers of a timed-out, cancelled or abandoned run go down with it.
    if (!c.stop_reason.empty() || cause)
      ::kill(-c.result.pid, SIGKILL);
    c.reap();
  }
  registry_.remove(c.result.pid);
  if (cause) {
    read_output(c, channel::out);
    read_output(c, channel::err);
    c.result.error = describe(cause);
    c.result.cause = std::move(cause);
  }
  unwatch(c.proc.stdin_fd);
  unwatch(c.proc.stdout_fd);
  unwatch(c.proc.stderr_fd);
  unwatch(c.proc.pidfd);
  c.result.finished_ns = wall_ns();
  auto node = children_.extract(c.id);
  assert(!node.empty()); // finish() runs once per child, while it is listed
  admitted_.fetch_sub(1);
  auto& owned = *node.mapped();
  if (owned.done)
    owned.done(std::move(owned.result));
}

} // namespace rouse::exec::detail
