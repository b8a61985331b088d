// The group-commit loop: drain the queue, apply each operation in a nested
// transaction (so one failing operation, e.g. on a full map, is rolled back
// alone), commit once, then answer every operation and publish the new events.
//
// Operations are applied in the order they were submitted, across threads:
// the moodycamel queue keeps order only per producer thread (its consumer
// drains the newest producer first), so each op takes a ticket from one
// counter before it is queued, and the writer applies tickets in sequence,
// holding back any that arrive ahead of a gap until the missing one is
// queued (it is, within the submitting thread's next few instructions).
#include "runtime/store/journal.hpp"

#include "messages/clock.hpp"
#include "runtime/store/store.hpp"

#include <concurrentqueue/blockingconcurrentqueue.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace rouse::store {

namespace {

template <class... Ts>
struct overloaded_fn : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
overloaded_fn(Ts...) -> overloaded_fn<Ts...>;

// Deletes `disarm`, then stores `arm`.
caf::error apply_wakeups(store& db, write_txn& txn,
                         const std::vector<wakeup>& arm,
                         const std::vector<wakeup_key>& disarm) {
  for (auto& key : disarm)
    if (auto r = db.delete_wakeup(txn, key); !r)
      return std::move(r.error());
  for (auto& w : arm)
    if (auto err = db.put_wakeup(txn, w))
      return err;
  return {};
}

/// An operation with its place in the submission order.
struct ticketed {
  uint64_t ticket = 0;
  write_op op;
};

/// The result of applying one operation inside the batch transaction.
struct applied {
  caf::error err;
  std::vector<append_outcome> outcomes; // append_op
  std::vector<run_record> created;      // route_op
};

} // namespace

struct journal::impl {
  store& db;
  journal_options opts;
  committed_fn on_committed;
  commit_observer observer;
  moodycamel::BlockingConcurrentQueue<ticketed> queue;
  /// The next ticket to hand out (submit) and to apply (writer thread).
  std::atomic<uint64_t> next_ticket{0};
  uint64_t next_to_apply = 0;
  std::atomic<std::size_t> backlog{0};
  /// Latched when queued runs pass their high-water mark, cleared below 3/4.
  mutable std::atomic<bool> runs_high{false};
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> commits{0};
  std::thread thread;

  impl(store& s, journal_options o, committed_fn c, commit_observer obs)
      : db(s), opts(o), on_committed(std::move(c)), observer(std::move(obs)) {}

  void run() {
    const auto max_ops = std::max<std::size_t>(opts.max_batch_ops, 1);
    std::vector<ticketed> inbox(max_ops);
    // Dequeued ops, in ticket order; the ones from next_to_apply on without a
    // gap form the next batch.
    std::vector<ticketed> pending;
    for (;;) {
      // Block only when nothing is ready to apply.
      auto wait = ready(pending) > 0 ? std::chrono::milliseconds{0}
                                     : std::chrono::milliseconds{50};
      auto n = queue.wait_dequeue_bulk_timed(inbox.begin(), inbox.size(), wait);
      if (n > 0) {
        bool sorted = true;
        for (std::size_t i = 0; i < n; ++i) {
          if (!pending.empty() && pending.back().ticket > inbox[i].ticket)
            sorted = false;
          pending.push_back(std::move(inbox[i]));
          inbox[i] = ticketed{};
        }
        if (!sorted)
          std::sort(pending.begin(), pending.end(),
                    [](const ticketed& x, const ticketed& y) {
                      return x.ticket < y.ticket;
                    });
      }
      auto k = std::min(ready(pending), max_ops);
      if (k == 0) {
        if (n == 0 && pending.empty() && stopping.load() && backlog.load() == 0)
          return;
        continue;
      }
      process(pending, k);
      pending.erase(pending.begin(),
                    pending.begin() + static_cast<std::ptrdiff_t>(k));
      next_to_apply += k;
      backlog.fetch_sub(k);
    }
  }

  /// Returns how many ops at the front of `pending` follow on the last one
  /// applied without a gap.
  std::size_t ready(const std::vector<ticketed>& pending) const {
    std::size_t k = 0;
    while (k < pending.size() && pending[k].ticket == next_to_apply + k)
      ++k;
    return k;
  }

  applied apply(write_txn& parent, write_op& op, int64_t now,
                std::vector<event>& fresh) {
    applied result;
    auto child = parent.begin_child();
    if (!child) {
      result.err = std::move(child.error());
      return result;
    }
    auto fresh_mark = fresh.size();
    result.err = std::visit(
        overloaded_fn{
            [&](append_op& x) -> caf::error {
              for (auto& ev : x.events) {
                auto r = db.append(*child, ev, now);
                if (!r)
                  return std::move(r.error());
                result.outcomes.push_back({r->seq, ev.id, r->duplicate});
                if (!r->duplicate)
                  fresh.push_back(ev);
              }
              return {};
            },
            [&](route_op& x) -> caf::error {
              for (auto& run : x.runs) {
                auto r = db.put_run_if_absent(*child, run);
                if (!r)
                  return std::move(r.error());
                if (*r)
                  result.created.push_back(run);
              }
              return db.advance_checkpoint(*child, x.consumer, x.through_seq);
            },
            [&](run_op& x) -> caf::error {
              if (auto err = db.put_run(*child, x.run))
                return err;
              for (const auto& more : x.also)
                if (auto err = db.put_run(*child, more))
                  return err;
              for (auto& ev : x.emit) {
                auto r = db.append(*child, ev, now);
                if (!r)
                  return std::move(r.error());
                if (!r->duplicate)
                  fresh.push_back(ev);
              }
              for (const auto& c : x.charge)
                if (auto err = db.charge_budget(*child, x.run.trigger, c))
                  return err;
              return apply_wakeups(db, *child, x.arm, x.disarm);
            },
            [&](trigger_op& x) -> caf::error {
              if (x.definition)
                return db.put_trigger(*child, x.name, *x.definition);
              auto r = db.delete_trigger(*child, x.name);
              return r ? caf::error{} : std::move(r.error());
            },
            [&](wakeup_op& x) -> caf::error {
              return apply_wakeups(db, *child, x.arm, x.disarm);
            },
            [&](state_op& x) -> caf::error {
              return db.put_state(*child, x.key, x.value);
            },
            [&](budget_op& x) -> caf::error {
              for (const auto& u : x.usage)
                if (auto err = db.put_budget(*child, x.trigger, u))
                  return err;
              return {};
            },
        },
        op);
    if (!result.err)
      result.err = child->commit();
    if (result.err) {
      fresh.resize(fresh_mark);
      result.outcomes.clear();
      result.created.clear();
    }
    return result;
  }

  void process(std::vector<ticketed>& batch, std::size_t n) {
    auto started = std::chrono::steady_clock::now();
    auto now = wall_clock_ns();
    std::vector<applied> results;
    results.reserve(n);
    std::vector<event> fresh;
    caf::error batch_err;
    auto txn = db.begin_write();
    if (!txn) {
      batch_err = std::move(txn.error());
    } else {
      for (std::size_t i = 0; i < n; ++i)
        results.push_back(apply(*txn, batch[i].op, now, fresh));
      batch_err = txn->commit();
    }
    if (batch_err)
      fresh.clear();
    commits.fetch_add(1);
    if (observer)
      observer(std::chrono::duration<double>(std::chrono::steady_clock::now()
                                             - started)
                   .count(),
               n, fresh.size());
    for (std::size_t i = 0; i < n; ++i) {
      caf::error err = batch_err ? batch_err : std::move(results[i].err);
      std::visit(overloaded_fn{
                     [&](append_op& x) {
                       if (err)
                         x.done(std::move(err));
                       else
                         x.done(std::move(results[i].outcomes));
                     },
                     [&](route_op& x) {
                       if (err)
                         x.done(std::move(err));
                       else
                         x.done(std::move(results[i].created));
                     },
                     // run, trigger, wakeup, state and budget ops.
                     [&](auto& x) {
                       if (x.done)
                         x.done(std::move(err));
                     },
                 },
                 batch[i].op);
    }
    if (!fresh.empty() && on_committed)
      on_committed(std::move(fresh));
  }
};

journal::journal(store& db, journal_options opts, committed_fn on_committed,
                 commit_observer observer)
    : impl_(std::make_unique<impl>(db, opts, std::move(on_committed),
                                   std::move(observer))) {
  impl_->thread = std::thread([this] { impl_->run(); });
}

journal::~journal() {
  stop();
}

void journal::submit(write_op op) {
  // Count the op before looking at `stopping`: the writer exits only when the
  // backlog is zero, so a counted op is always either processed or failed here.
  impl_->backlog.fetch_add(1);
  if (impl_->stopping.load()) {
    impl_->backlog.fetch_sub(1);
    auto err = make_error(errc::shutting_down, "rouse is shutting down");
    std::visit(overloaded_fn{
                   [&](append_op& x) { x.done(err); },
                   [&](route_op& x) { x.done(err); },
                   [&](auto& x) {
                     if (x.done)
                       x.done(err);
                   },
               },
               op);
    return;
  }
  // The ticket is taken right before the op is queued: the writer waits for
  // every ticket it has not seen yet.
  auto ticket = impl_->next_ticket.fetch_add(1);
  impl_->queue.enqueue(ticketed{ticket, std::move(op)});
}

std::size_t journal::backlog() const noexcept {
  return impl_->backlog.load(std::memory_order_relaxed);
}

namespace {

bool runs_over(const journal_options& opts, std::atomic<bool>& latch) {
  if (!opts.queued_runs)
    return false;
  auto n = opts.queued_runs->load(std::memory_order_relaxed);
  if (n > opts.high_water_runs)
    latch.store(true, std::memory_order_relaxed);
  else if (n <= opts.high_water_runs * 3 / 4)
    latch.store(false, std::memory_order_relaxed);
  return latch.load(std::memory_order_relaxed);
}

} // namespace

bool journal::overloaded() const noexcept {
  return backlog() > impl_->opts.high_water_ops
         || runs_over(impl_->opts, impl_->runs_high);
}

std::string journal::overload_reason() const {
  if (backlog() > impl_->opts.high_water_ops)
    return "the journal has " + std::to_string(backlog())
           + " writes queued (high-water mark "
           + std::to_string(impl_->opts.high_water_ops) + ")";
  if (runs_over(impl_->opts, impl_->runs_high))
    return std::to_string(impl_->opts.queued_runs->load())
           + " events and runs are queued behind flow control (high-water mark "
           + std::to_string(impl_->opts.high_water_runs) + ")";
  return {};
}

void journal::stop() {
  if (impl_->stopping.exchange(true))
    return;
  if (impl_->thread.joinable())
    impl_->thread.join();
}

uint64_t journal::commits() const noexcept {
  return impl_->commits.load();
}

} // namespace rouse::store
