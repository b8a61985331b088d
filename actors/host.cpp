// Host bootstrap and shutdown: the order of steps is what makes recovery safe
// (see docs/architecture.md, "Startup and recovery").
#include "actors/host.hpp"

#include "actors/dispatcher.hpp"
#include "actors/exec_handler.hpp"
#include "actors/governor.hpp"
#include "actors/router_shard.hpp"
#include "actors/trigger_set.hpp"
#include "runtime/api/api.hpp"
#include "runtime/exec/process_runner.hpp"
#include "runtime/http/server.hpp"
#include "runtime/json/cloudevent.hpp"
#include "runtime/json/writer.hpp"
#include "runtime/metrics/metrics.hpp"
#include "runtime/store/store.hpp"
#include "sources/cron/cron_source.hpp"
#include "sources/webhook/webhook_source.hpp"

#include "messages/clock.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <iostream>

namespace rouse {

struct host::impl {
  caf::actor_system* sys = nullptr;
  host_options opts;
  std::unique_ptr<store::store> db;
  metrics::registry metrics;
  std::unique_ptr<store::journal> journal;
  std::shared_ptr<exec::process_runner> runner;
  std::unique_ptr<http::server> server;
  /// Set before `ready`; the listener calls it only once ready.
  http::handler api_handler;
  std::unique_ptr<sources::webhook::webhook_routes> webhooks;
  std::vector<sources::cron::cron_source_config> crons;
  std::vector<caf::actor> cron_actors;
  std::shared_ptr<const api::run_tokens> tokens =
      std::make_shared<const api::run_tokens>();
  trigger_registry_ptr registry = std::make_shared<trigger_registry>();
  std::unique_ptr<trigger_set> triggers;
  dispatcher_actor dispatcher;
  std::shared_ptr<std::atomic<uint32_t>> waits_active =
      std::make_shared<std::atomic<uint32_t>>(0);
  /// Runs held by all governors (admitted, not yet started or skipped).
  std::shared_ptr<std::atomic<int64_t>> held =
      std::make_shared<std::atomic<int64_t>>(0);
  std::vector<router_shard_actor> shards;
  std::atomic<bool> ready{false};
  bool stopped = false;
  std::string api_url;

  void log(const std::string& line) const {
    if (opts.verbose)
      std::cerr << "rouse: " << line << std::endl;
  }

  // Runs on the journal thread after each commit: hand new events to their
  // shards.
  void on_committed(std::vector<event>&& events) {
    if (shards.empty() || events.empty())
      return;
    auto through = events.back().seq;
    // Runs waiting for an event see every event committed after they began
    // to wait (the dispatcher looks back over the ones before).
    if (waits_active->load() > 0)
      caf::anon_send(dispatcher, route_atom::value, through, events);
    auto n = static_cast<uint32_t>(shards.size());
    if (n == 1) {
      to_shard(0, through, std::move(events));
      return;
    }
    std::vector<std::vector<event>> parts(n);
    for (auto& ev : events)
      parts[shard_of(ev, n)].push_back(std::move(ev));
    for (uint32_t i = 0; i < n; ++i)
      if (!parts[i].empty())
        to_shard(i, through, std::move(parts[i]));
  }

  // Hands events to shard `i`; they count as queued until it has routed them
  // (then their runs count at their governors).
  void to_shard(uint32_t i, uint64_t through, std::vector<event>&& events) {
    held->fetch_add(static_cast<int64_t>(events.size()));
    caf::anon_send(shards[i], route_atom::value, through, std::move(events));
  }

  caf::error build_pipeline() {
    dispatcher_config dc;
    dc.triggers = registry;
    dc.journal = journal.get();
    dc.db = db.get();
    dc.metrics = &metrics;
    dc.max_running = opts.cfg.node.max_running;
    dc.waits_active = waits_active;
    dc.queued = held;
    dc.run_events = opts.cfg.node.run_events;
    dispatcher = spawn_dispatcher(*sys, dc);
    trigger_set_config tc;
    tc.sys = sys;
    tc.db = db.get();
    tc.journal = journal.get();
    tc.runner = runner;
    tc.dispatcher = dispatcher;
    tc.held = held;
    tc.config_file = opts.cfg.file;
    tc.base_dir = opts.cfg.base_dir;
    tc.output_cap_bytes = opts.cfg.node.output_cap_bytes;
    tc.api_url = api_url;
    tc.tokens = tokens;
    tc.actor_handlers = opts.actor_handlers;
    tc.shards = opts.cfg.node.shards;
    triggers = std::make_unique<trigger_set>(std::move(tc), registry);
    std::vector<std::string> warnings;
    if (auto err = triggers->load(opts.cfg.triggers, warnings))
      return err;
    for (const auto& w : warnings)
      log(w);
    for (uint32_t i = 0; i < opts.cfg.node.shards; ++i) {
      router_shard_config rc;
      rc.index = i;
      rc.triggers = registry;
      rc.journal = journal.get();
      rc.db = db.get();
      rc.max_depth = opts.cfg.node.max_depth;
      rc.queued = held;
      shards.push_back(spawn_router_shard(*sys, rc));
    }
    return {};
  }

  caf::error recover() {
    // 1. Runs decided but not finished: pending ones wait for admission again;
    //    running ones were interrupted and start again with the next attempt.
    std::vector<run_record> unfinished;
    // Retrying runs with a stored wakeup (wait.due_ns) are woken by the timer
    // service when their next attempt is due; older ones start at once.
    for (auto state :
         {run_state::pending, run_state::running, run_state::retrying}) {
      auto runs = db->runs_in_state(state);
      if (!runs)
        return std::move(runs.error());
      for (auto& run : *runs)
        if (state != run_state::retrying || run.wait.due_ns == 0)
          unfinished.push_back(std::move(run));
    }
    std::sort(unfinished.begin(), unfinished.end(),
              [](const run_record& a, const run_record& b) {
                return a.event_seq < b.event_seq;
              });
    size_t resumed = 0;
    auto table = registry->load();
    for (auto& run : unfinished) {
      auto* trig = table->find(run.trigger);
      if (trig == nullptr) {
        log("run " + run.id + " belongs to trigger \"" + run.trigger
            + "\", which is no longer configured; left as "
            + to_string(run.current()));
        continue;
      }
      if (run.current() == run_state::running)
        log("run " + run.id + " was interrupted in attempt "
            + std::to_string(run.attempt) + "; starting it again");
      caf::anon_send(trig->governor, admit_atom::value, std::move(run));
      ++resumed;
    }
    // Waiting runs: sleeps and timeouts are stored wakeups the timer service
    // reloads; waits for an event look back over the journal from where they
    // began, so an event committed while the host was down still wakes them.
    auto waiting = db->runs_in_state(run_state::waiting);
    if (!waiting)
      return std::move(waiting.error());
    size_t watching = 0;
    for (auto& run : *waiting)
      if (run.wait.kind == run_wait::event) {
        caf::anon_send(dispatcher, wait_atom::value, std::move(run));
        ++watching;
      }
    if (!waiting->empty())
      log(std::to_string(waiting->size()) + " run(s) waiting, "
          + std::to_string(watching) + " of them for an event");
    // 2. Events committed but not yet decided: replay from each shard's
    // checkpoint.
    auto n = static_cast<uint32_t>(shards.size());
    std::vector<uint64_t> marks(n);
    uint64_t from = db->last_seq();
    for (uint32_t i = 0; i < n; ++i) {
      auto cp = db->checkpoint(shard_consumer_name(i));
      if (!cp)
        return std::move(cp.error());
      marks[i] = *cp;
      from = std::min(from, *cp);
    }
    size_t replayed = 0;
    const uint64_t last = db->last_seq();
    while (from < last) {
      auto chunk = db->read_events(from + 1, 512);
      if (!chunk)
        return std::move(chunk.error());
      if (chunk->empty())
        break;
      auto through = chunk->back().seq;
      std::vector<std::vector<event>> parts(n);
      for (auto& ev : *chunk) {
        auto s = shard_of(ev, n);
        if (ev.seq > marks[s]) {
          parts[s].push_back(std::move(ev));
          ++replayed;
        }
      }
      for (uint32_t i = 0; i < n; ++i)
        to_shard(i, through, std::move(parts[i]));
      from = through;
    }
    if (resumed > 0 || replayed > 0)
      log("recovered " + std::to_string(resumed)
          + " unfinished run(s), replayed " + std::to_string(replayed)
          + " undecided event(s)");
    return {};
  }

  // GET /api/schedules[/{id}]: each cron source's definition and its stored
  // state (what its actor last committed).
  api::admin_reply schedules(std::string_view id) {
    namespace sc = sources::cron;
    auto now = wall_clock_ns();
    auto state_of = [&](const sc::cron_source_config& c,
                        sc::ticker_state& st) -> caf::error {
      auto stored = db->get_state(sc::state_key(c.name));
      if (!stored)
        return std::move(stored.error());
      if (*stored && !sc::decode_state(**stored, st))
        return make_error(errc::storage_failure, "stored state of schedule "
                                                     + c.name
                                                     + " is malformed");
      return {};
    };
    auto failed = [](const caf::error& err) {
      json::object_writer w;
      w.field("error", describe(err));
      return api::admin_reply{500, w.finish()};
    };
    if (id.empty()) {
      json::array_writer all;
      for (const auto& c : crons) {
        sc::ticker_state st;
        if (auto err = state_of(c, st))
          return failed(err);
        all.raw(sc::render_schedule(c, st, now, 1));
      }
      json::object_writer w;
      w.raw("schedules", all.finish());
      return {200, w.finish()};
    }
    for (const auto& c : crons)
      if (c.name == id) {
        sc::ticker_state st;
        if (auto err = state_of(c, st))
          return failed(err);
        return {200, sc::render_schedule(c, st, now, 5)};
      }
    json::object_writer w;
    w.field("error", "no schedule \"" + std::string{id} + "\"");
    return {404, w.finish()};
  }

  void stop() {
    if (stopped)
      return;
    stopped = true;
    ready = false;
    if (server)
      server->stop();
    auto bye = [&](const auto& hdl) {
      if (hdl)
        caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
    };
    for (auto& s : shards)
      bye(s);
    for (auto& c : cron_actors)
      bye(c);
    if (triggers)
      triggers->stop();
    bye(dispatcher);
    // Processes still running are killed; their runs stay `running` in the
    // store and are retried at the next start.
    runner.reset();
    if (journal)
      journal->stop();
    shards.clear();
    cron_actors.clear();
    dispatcher = nullptr;
    registry->store(nullptr);
    // After the journal: its last callbacks may still reach the trigger set.
    triggers.reset();
    server.reset();
    webhooks.reset();
    journal.reset();
    db.reset();
  }
};

host::host() : impl_(std::make_unique<impl>()) {}

host::~host() {
  stop();
}

caf::expected<std::unique_ptr<host>> host::start(caf::actor_system& sys,
                                                 host_options opts) {
  std::unique_ptr<host> h{new host()};
  auto& d = *h->impl_;
  d.sys = &sys;
  d.opts = std::move(opts);
  const auto& node = d.opts.cfg.node;
  std::vector<config::diagnostic> source_errors;
  auto hooks =
      sources::webhook::load_webhook_sources(d.opts.cfg, source_errors);
  d.crons = sources::cron::load_cron_sources(d.opts.cfg, source_errors);
  if (!source_errors.empty()) {
    std::string text;
    for (const auto& e : source_errors)
      text += (text.empty() ? "" : "\n") + e.to_string();
    return make_error(errc::invalid_config, std::move(text));
  }

  store::store_options so;
  so.dir = node.data_dir;
  so.map_size_bytes = node.map_size_bytes;
  so.max_mapped_bytes = node.max_mapped_bytes;
  so.sync = node.durability == config::durability_mode::fsync;
  so.dedup_window = node.dedup_window;
  auto db = store::store::open(so);
  if (!db)
    return std::move(db.error());
  d.db = std::move(*db);

  auto* self = &d;
  store::journal_options jo;
  jo.queued_runs = d.held;
  jo.high_water_runs = node.max_queued;
  d.journal = std::make_unique<store::journal>(
      *d.db, jo,
      [self](std::vector<event>&& evs) { self->on_committed(std::move(evs)); },
      [self](double seconds, std::size_t, std::size_t) {
        self->metrics.journal_commit_seconds.observe(seconds);
      });
  d.metrics.add_gauge("rouse_journal_backlog",
                      "Journal operations queued or being committed.", [self] {
                        return self->journal ? double(self->journal->backlog())
                                             : 0.0;
                      });
  d.metrics.add_gauge("rouse_journal_last_seq",
                      "Sequence number of the newest committed event.", [self] {
                        return self->db ? double(self->db->last_seq()) : 0.0;
                      });
  d.metrics.add_gauge(
      "rouse_runs_queued",
      "Events not yet routed and runs admitted but not started (held by "
      "governors or waiting for an execution slot).",
      [self] { return double(self->held->load()); });
  d.metrics.add_gauge(
      "rouse_backpressure_active",
      "1 while webhooks and the API answer 503 (journal or queued runs over "
      "their high-water mark).",
      [self] {
        return self->journal && self->journal->overloaded() ? 1.0 : 0.0;
      });
  d.metrics.add_gauge(
      "rouse_runs_waiting",
      "Runs waiting for an event (wait_for), with or without a timeout.",
      [self] { return double(self->waits_active->load()); });
  d.metrics.add_gauge(
      "rouse_wakeups_stored",
      "Stored wakeups: sleeping runs, wait timeouts and delayed retries.",
      [self] {
        if (!self->db)
          return 0.0;
        auto n = self->db->count_wakeups();
        return n ? double(*n) : 0.0;
      });
  d.metrics.add_gauge(
      "rouse_exec_running", "Handler processes running.",
      [self] { return self->runner ? double(self->runner->running()) : 0.0; });
  // Handler processes a killed rouse left running would overlap the runs
  // that recovery starts again: kill them first. Each live child has a file
  // in data_dir/children while it runs.
  exec::runner_options ro;
  ro.registry_dir =
      (std::filesystem::path{node.data_dir} / "children").string();
  auto leftovers = exec::kill_leftovers(ro.registry_dir);
  if (!leftovers)
    return make_error(errc::invalid_config,
                      describe(leftovers.error())
                          + " (is another rouse serving data_dir "
                          + node.data_dir + "?)");
  if (!leftovers->empty()) {
    std::string runs;
    for (const auto& p : *leftovers)
      runs += (runs.empty() ? "" : ", ") + p.tag + " (pid "
              + std::to_string(p.pid) + (p.gone ? "" : ", still exiting") + ")";
    std::cerr << "rouse: killed " << leftovers->size()
              << " handler process(es) the previous rouse left running: "
              << runs << "\n";
  }
  d.runner = std::make_shared<exec::process_runner>(std::move(ro));

  // The listener comes first so ROUSE_API is known to every run, but it answers
  // 503 until the pipeline is built and recovery has been queued: live events
  // must reach the shards after the replayed ones.
  http::server_options ho;
  ho.host = node.listen_host;
  ho.port = node.listen_port;
  ho.threads = node.http_threads;
  ho.max_body_bytes = node.max_body_bytes;
  auto server = http::server::start(
      ho, [self](http::request&& req, http::responder respond) {
        if (!self->ready.load(std::memory_order_acquire)) {
          auto r = http::error_response(503, "rouse is starting");
          r.headers.push_back({"Retry-After", "1"});
          return respond(std::move(r));
        }
        if (self->webhooks && self->webhooks->handle(req, respond))
          return;
        self->api_handler(std::move(req), std::move(respond));
      });
  if (!server)
    return std::move(server.error());
  d.server = std::move(*server);
  auto host_part = node.listen_host.find(':') != std::string::npos
                       ? "[" + node.listen_host + "]"
                       : node.listen_host;
  d.api_url = "http://" + host_part + ":" + std::to_string(d.server->port());

  if (auto err = d.build_pipeline())
    return err;
  if (auto err = d.recover())
    return err;
  api::api_config ac;
  ac.db = d.db.get();
  ac.journal = d.journal.get();
  ac.metrics = &d.metrics;
  ac.token = node.api_token;
  ac.bench_control = d.opts.bench_control;
  ac.admin = d.triggers.get();
  ac.tokens = d.tokens.get();
  ac.schedules = [self](std::string_view id) { return self->schedules(id); };
  d.api_handler = api::make_api_handler(ac);
  d.webhooks = std::make_unique<sources::webhook::webhook_routes>(
      std::move(hooks), d.journal.get(), &d.metrics);
  for (const auto& c : d.crons)
    d.cron_actors.push_back(sources::cron::spawn_cron_source(
        sys, c, {d.db.get(), d.journal.get(), d.dispatcher}));
  d.ready.store(true, std::memory_order_release);
  d.log("serving " + d.api_url + " with "
        + std::to_string(d.registry->load()->triggers.size())
        + " trigger(s), store " + node.data_dir + " (last seq "
        + std::to_string(d.db->last_seq()) + ")");
  return h;
}

void host::stop() {
  impl_->stop();
}

uint16_t host::port() const noexcept {
  return impl_->server ? impl_->server->port() : 0;
}

std::string host::api_url() const {
  return impl_->api_url;
}

void host::emit(
    std::vector<event> events,
    std::function<void(caf::expected<std::vector<store::append_outcome>>)>
        done) {
  for (auto& ev : events)
    ev.received_by = "embed";
  store::append_op op;
  op.events = std::move(events);
  op.done = std::move(done);
  impl_->journal->submit(std::move(op));
}

store::store& host::db() noexcept {
  return *impl_->db;
}

} // namespace rouse
