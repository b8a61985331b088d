// The process runner's thread: takes start() and cancel() requests from a
// queue woken by an eventfd and drives the supervisor (supervisor.cpp) from
// one epoll loop.
#include "runtime/exec/process_runner.hpp"

#include "runtime/exec/spawn.hpp"
#include "runtime/exec/supervisor.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <variant>

namespace rouse::exec {

namespace {

using detail::errno_text;
using detail::unique_fd;

/// Events taken per epoll_wait call.
constexpr int max_events = 64;

/// The epoll key of the wakeup eventfd (below the supervisor's keys).
constexpr uint64_t wake_key = 0;

/// A start() call waiting for the runner thread.
struct start_request {
  process_spec spec;
  process_runner::completion done;
  /// Set: complete with this error instead of spawning.
  caf::error rejected;
  /// Set by cancel(): complete as cancelled, with this reason, instead of
  /// spawning.
  std::optional<std::string> cancel_reason;
};

/// A cancel() call for the runs that were running when it was made.
struct cancel_request {
  std::string tag;
  std::string reason;
};

/// In call order, so a cancel never reaches a run started after it.
using request = std::variant<start_request, cancel_request>;

} // namespace

struct process_runner::impl {
  explicit impl(runner_options opts) : opts(opts) {}

  runner_options opts;
  unique_fd epoll_fd;
  unique_fd wake_fd;
  std::thread thread;
  /// Accepted requests not completed yet: queued, spawning or running.
  std::atomic<std::size_t> admitted{0};

  std::mutex mtx;
  /// Requests for the runner thread; guarded by `mtx`.
  std::deque<request> queue;
  /// The destructor began; guarded by `mtx`.
  bool stopping = false;
  /// No runner thread (anymore): start() completes on the caller's thread
  /// with `final_error`. Both guarded by `mtx`.
  bool inline_completions = false;
  caf::error final_error;
  /// How many accepted, not completed runs have each non-empty tag; guarded
  /// by `mtx`. Lets cancel() tell at once whether it found anything.
  std::unordered_map<std::string, std::size_t> live_tags;

  /// Set up by open() before the runner thread starts; disabled if
  /// opts.registry_dir is empty.
  detail::child_registry registry;
  /// Set up by open(); used by the runner thread only.
  std::optional<detail::supervisor> children;

  void open();
  void wake();
  void run();
  bool take_requests();
  void complete_request(start_request& req, const caf::error& otherwise);
  void release_tag(const std::string& tag);
  void shutdown();
};

void process_runner::impl::open() {
  auto fail = [this](const char* what, int err) {
    inline_completions = true;
    final_error =
        make_error(errc::spawn_failed, std::string{"process runner: "} + what
                                           + ": " + errno_text(err));
  };
  epoll_fd.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd)
    return fail("epoll_create1", errno);
  wake_fd.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd)
    return fail("eventfd", errno);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = wake_key;
  if (::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, wake_fd.get(), &ev) != 0)
    return fail("epoll_ctl", errno);
  if (!opts.registry_dir.empty()) {
    auto opened = detail::child_registry::open(opts.registry_dir);
    if (!opened) {
      inline_completions = true;
      final_error = make_error(errc::spawn_failed,
                               "process runner: " + describe(opened.error()));
      return;
    }
    registry = std::move(*opened);
  }
  children.emplace(epoll_fd.get(), admitted, registry);
  // The thread blocks every asynchronous signal: the process's handlers run
  // elsewhere, and a SIGPIPE from a stdin write stays pending until the
  // supervisor takes it. Children get a clean mask from posix_spawn.
  sigset_t blocked;
  sigset_t old;
  sigfillset(&blocked);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS})
    sigdelset(&blocked, sig);
  pthread_sigmask(SIG_SETMASK, &blocked, &old);
  try {
    thread = std::thread{[this] { run(); }};
  } catch (const std::system_error& e) {
    fail("thread", e.code().value());
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void process_runner::impl::wake() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd.get(), &one, sizeof one);
}

void process_runner::impl::run() {
  std::array<epoll_event, max_events> events;
  for (;;) {
    auto timeout_ms =
        children->next_timeout_ms(std::chrono::steady_clock::now());
    int n = ::epoll_wait(epoll_fd.get(), events.data(), max_events, timeout_ms);
    if (n < 0 && errno != EINTR)
      break;
    bool woken = false;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == wake_key)
        woken = true;
      else
        children->on_event(events[i].data.u64);
    }
    if (woken && !take_requests())
      break;
    children->on_deadlines(std::chrono::steady_clock::now());
  }
  shutdown();
}

bool process_runner::impl::take_requests() {
  uint64_t count = 0;
  [[maybe_unused]] auto n = ::read(wake_fd.get(), &count, sizeof count);
  std::deque<request> taken;
  {
    std::lock_guard guard{mtx};
    if (stopping)
      return false;
    taken.swap(queue);
  }
  for (auto& item : taken) {
    if (auto* cancel = std::get_if<cancel_request>(&item)) {
      children->cancel(cancel->tag, cancel->reason);
      continue;
    }
    auto& req = std::get<start_request>(item);
    if (req.rejected || req.cancel_reason)
      complete_request(req, {});
    else
      children->launch(std::move(req.spec), std::move(req.done));
  }
  return true;
}

void process_runner::impl::complete_request(start_request& req,
                                            const caf::error& otherwise) {
  if (req.rejected) {
    detail::complete_unstarted(req.done, req.rejected, detail::wall_ns());
    return;
  }
  admitted.fetch_sub(1);
  if (req.cancel_reason)
    detail::complete_cancelled(req.done, *req.cancel_reason, detail::wall_ns());
  else
    detail::complete_unstarted(req.done, otherwise, detail::wall_ns());
}

void process_runner::impl::release_tag(const std::string& tag) {
  std::lock_guard guard{mtx};
  auto i = live_tags.find(tag);
  assert(i != live_tags.end()); // added by start() for this run
  if (--i->second == 0)
    live_tags.erase(i);
}

void process_runner::impl::shutdown() {
  auto stopped = make_error(errc::shutting_down, "runner stopped");
  children->stop_all(stopped);
  // Completions may call start(); those requests land here too.
  for (;;) {
    std::deque<request> taken;
    {
      std::lock_guard guard{mtx};
      stopping = true;
      if (queue.empty()) {
        inline_completions = true;
        final_error = stopped;
        return;
      }
      taken.swap(queue);
    }
    for (auto& item : taken)
      if (auto* req = std::get_if<start_request>(&item))
        complete_request(*req, stopped);
  }
}

process_runner::process_runner(runner_options opts)
    : impl_(std::make_unique<impl>(opts)) {
  impl_->open();
}

process_runner::~process_runner() {
  auto& s = *impl_;
  assert(std::this_thread::get_id() != s.thread.get_id());
  {
    std::lock_guard guard{s.mtx};
    s.stopping = true;
  }
  if (s.thread.joinable()) {
    s.wake();
    s.thread.join();
  }
}

void process_runner::start(process_spec spec, completion done) {
  auto& s = *impl_;
  std::unique_lock guard{s.mtx};
  if (s.inline_completions) {
    auto err = s.final_error;
    guard.unlock();
    detail::complete_unstarted(done, std::move(err), detail::wall_ns());
    return;
  }
  start_request req{std::move(spec), std::move(done), {}, {}};
  if (s.stopping) {
    req.rejected = make_error(errc::shutting_down, "runner stopped");
  } else if (s.admitted.load() >= s.opts.max_processes) {
    auto name = req.spec.argv.empty() ? std::string{} : req.spec.argv[0];
    req.rejected =
        make_error(errc::overloaded, "spawn " + name + ": overloaded ("
                                         + std::to_string(s.opts.max_processes)
                                         + " processes running)");
  } else {
    s.admitted.fetch_add(1);
    if (!req.spec.tag.empty()) {
      ++s.live_tags[req.spec.tag];
      // Every path that completes an admitted run calls its completion, so
      // releasing the tag there covers them all.
      req.done = [&s, tag = req.spec.tag,
                  done = std::move(req.done)](process_result r) {
        s.release_tag(tag);
        if (done)
          done(std::move(r));
      };
    }
  }
  s.queue.push_back(std::move(req));
  guard.unlock();
  s.wake();
}

bool process_runner::cancel(const std::string& tag, std::string reason) {
  if (tag.empty())
    return false;
  auto& s = *impl_;
  std::unique_lock guard{s.mtx};
  auto live = s.live_tags.find(tag);
  if (live == s.live_tags.end())
    return false;
  // Marked here, under the lock, a queued run never spawns; the runner
  // thread takes the rest (if any) from the running children.
  std::size_t queued = 0;
  for (auto& item : s.queue) {
    auto* req = std::get_if<start_request>(&item);
    if (req && !req->rejected && req->spec.tag == tag) {
      ++queued;
      if (!req->cancel_reason)
        req->cancel_reason = reason;
    }
  }
  if (queued < live->second && !s.stopping) {
    s.queue.emplace_back(cancel_request{tag, std::move(reason)});
    guard.unlock();
    s.wake();
  }
  return true;
}

std::size_t process_runner::running() const noexcept {
  return impl_->admitted.load();
}

} // namespace rouse::exec
