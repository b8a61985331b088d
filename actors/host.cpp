// Host bootstrap and shutdown: the order of steps is what makes recovery safe
// (see docs/architecture.md, "Startup and recovery").
#include "actors/host.hpp"

#include "actors/dispatcher.hpp"
#include "actors/exec_handler.hpp"
#include "actors/governor.hpp"
#include "actors/router_shard.hpp"
#include "runtime/api/api.hpp"
#include "runtime/exec/process_runner.hpp"
#include "runtime/http/server.hpp"
#include "runtime/json/cloudevent.hpp"
#include "runtime/metrics/metrics.hpp"
#include "runtime/store/store.hpp"

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
  std::shared_ptr<trigger_table> table;
  dispatcher_actor dispatcher;
  std::vector<router_shard_actor> shards;
  std::vector<exec_handler_actor> exec_handlers;
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
    auto n = static_cast<uint32_t>(shards.size());
    if (n == 1) {
      caf::anon_send(shards[0], route_atom::value, through, std::move(events));
      return;
    }
    std::vector<std::vector<event>> parts(n);
    for (auto& ev : events)
      parts[shard_of(ev, n)].push_back(std::move(ev));
    for (uint32_t i = 0; i < n; ++i)
      if (!parts[i].empty())
        caf::anon_send(shards[i], route_atom::value, through,
                       std::move(parts[i]));
  }

  caf::error check_config() {
    for (const auto& t : opts.cfg.triggers) {
      if (t.run.actor.empty())
        continue;
      auto found =
          std::any_of(opts.actor_handlers.begin(), opts.actor_handlers.end(),
                      [&](const auto& h) { return h.first == t.run.actor; });
      if (!found)
        return make_error(errc::invalid_config,
                          opts.cfg.file + ":" + std::to_string(t.line)
                              + ": triggers." + t.name
                              + ".run.actor: no handler actor \"" + t.run.actor
                              + "\" is registered by this program");
    }
    return {};
  }

  std::string resolve(const std::string& path) const {
    if (path.empty() || std::filesystem::path{path}.is_absolute()
        || opts.cfg.base_dir.empty())
      return path;
    return (std::filesystem::path{opts.cfg.base_dir} / path).lexically_normal();
  }

  void build_pipeline() {
    table = std::make_shared<trigger_table>();
    std::vector<match::exact_rule> rules;
    for (const auto& t : opts.cfg.triggers) {
      trigger_entry entry;
      entry.name = t.name;
      entry.enabled = t.enabled;
      if (!t.run.actor.empty()) {
        for (const auto& [name, hdl] : opts.actor_handlers)
          if (name == t.run.actor)
            entry.handler = hdl;
        entry.timeout = t.run.timeout;
      } else {
        exec_handler_config ec;
        ec.trigger = t.name;
        ec.argv = t.run.exec;
        // A relative command path ("./agents/review.sh") is relative to the
        // config file, like every other path in it; a bare name is searched in
        // PATH.
        if (!ec.argv.empty() && ec.argv[0].find('/') != std::string::npos)
          ec.argv[0] = resolve(ec.argv[0]);
        ec.cwd = t.run.cwd.empty() ? opts.cfg.base_dir : resolve(t.run.cwd);
        ec.env = t.run.env;
        ec.timeout = t.run.timeout;
        ec.kill_grace = t.run.kill_grace;
        ec.output_cap_bytes = opts.cfg.node.output_cap_bytes;
        ec.api_url = api_url;
        ec.runner = runner;
        auto hdl = spawn_exec_handler(*sys, std::move(ec));
        exec_handlers.push_back(hdl);
        entry.handler = caf::actor_cast<handler_actor>(hdl);
        // The exec handler enforces the timeout on the process itself; the
        // request only needs to outlive it.
        entry.timeout = std::chrono::milliseconds{0};
      }
      table->triggers.push_back(std::move(entry));
      rules.push_back({t.sources, t.types});
    }
    table->matcher = match::make_exact_matcher(std::move(rules));
    dispatcher_config dc;
    dc.table = table;
    dc.journal = journal.get();
    dc.db = db.get();
    dc.metrics = &metrics;
    dc.max_running = opts.cfg.node.max_running;
    dispatcher = spawn_dispatcher(*sys, dc);
    for (size_t i = 0; i < table->triggers.size(); ++i) {
      governor_config gc;
      gc.trigger = table->triggers[i].name;
      gc.concurrency = opts.cfg.triggers[i].concurrency;
      gc.dispatcher = dispatcher;
      table->triggers[i].governor = spawn_governor(*sys, std::move(gc));
    }
    for (uint32_t i = 0; i < opts.cfg.node.shards; ++i) {
      router_shard_config rc;
      rc.index = i;
      rc.table = table;
      rc.journal = journal.get();
      shards.push_back(spawn_router_shard(*sys, rc));
    }
  }

  caf::error recover() {
    // 1. Runs decided but not finished: pending ones wait for admission again;
    //    running ones were interrupted and start again with the next attempt.
    std::vector<run_record> unfinished;
    for (auto state : {run_state::pending, run_state::running}) {
      auto runs = db->runs_in_state(state);
      if (!runs)
        return std::move(runs.error());
      for (auto& run : *runs)
        unfinished.push_back(std::move(run));
    }
    std::sort(unfinished.begin(), unfinished.end(),
              [](const run_record& a, const run_record& b) {
                return a.event_seq < b.event_seq;
              });
    size_t resumed = 0;
    for (auto& run : unfinished) {
      auto i =
          std::find_if(table->triggers.begin(), table->triggers.end(),
                       [&](const auto& t) { return t.name == run.trigger; });
      if (i == table->triggers.end()) {
        log("run " + run.id + " belongs to trigger \"" + run.trigger
            + "\", which is no longer configured; left as "
            + to_string(run.current()));
        continue;
      }
      if (run.current() == run_state::running)
        log("run " + run.id + " was interrupted in attempt "
            + std::to_string(run.attempt) + "; starting it again");
      caf::anon_send(i->governor, admit_atom::value, std::move(run));
      ++resumed;
    }
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
        caf::anon_send(shards[i], route_atom::value, through,
                       std::move(parts[i]));
      from = through;
    }
    if (resumed > 0 || replayed > 0)
      log("recovered " + std::to_string(resumed)
          + " unfinished run(s), replayed " + std::to_string(replayed)
          + " undecided event(s)");
    return {};
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
    if (table)
      for (auto& t : table->triggers)
        bye(t.governor);
    bye(dispatcher);
    for (auto& e : exec_handlers)
      bye(e);
    // Processes still running are killed; their runs stay `running` in the
    // store and are retried at the next start.
    runner.reset();
    if (journal)
      journal->stop();
    shards.clear();
    exec_handlers.clear();
    dispatcher = nullptr;
    table.reset();
    server.reset();
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
  if (auto err = d.check_config())
    return err;
  const auto& node = d.opts.cfg.node;

  store::store_options so;
  so.dir = node.data_dir;
  so.map_size_bytes = node.map_size_bytes;
  so.sync = node.durability == config::durability_mode::fsync;
  so.dedup_window = node.dedup_window;
  auto db = store::store::open(so);
  if (!db)
    return std::move(db.error());
  d.db = std::move(*db);

  auto* self = &d;
  d.journal = std::make_unique<store::journal>(
      *d.db, store::journal_options{},
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
      "rouse_exec_running", "Handler processes running.",
      [self] { return self->runner ? double(self->runner->running()) : 0.0; });
  d.runner = std::make_shared<exec::process_runner>();

  // The listener comes first so ROUSE_API is known to every run, but it answers
  // 503 until the pipeline is built and recovery has been queued: live events
  // must reach the shards after the replayed ones.
  api::api_config ac;
  ac.db = d.db.get();
  ac.journal = d.journal.get();
  ac.metrics = &d.metrics;
  ac.token = node.api_token;
  ac.bench_control = d.opts.bench_control;
  auto api_handler = api::make_api_handler(ac);
  http::server_options ho;
  ho.host = node.listen_host;
  ho.port = node.listen_port;
  ho.threads = node.http_threads;
  ho.max_body_bytes = node.max_body_bytes;
  auto server = http::server::start(
      ho, [self, api_handler](http::request&& req, http::responder respond) {
        if (!self->ready.load(std::memory_order_acquire)) {
          auto r = http::error_response(503, "rouse is starting");
          r.headers.push_back({"Retry-After", "1"});
          return respond(std::move(r));
        }
        api_handler(std::move(req), std::move(respond));
      });
  if (!server)
    return std::move(server.error());
  d.server = std::move(*server);
  auto host_part = node.listen_host.find(':') != std::string::npos
                       ? "[" + node.listen_host + "]"
                       : node.listen_host;
  d.api_url = "http://" + host_part + ":" + std::to_string(d.server->port());

  d.build_pipeline();
  if (auto err = d.recover())
    return err;
  d.ready.store(true, std::memory_order_release);
  d.log("serving " + d.api_url + " with "
        + std::to_string(d.table->triggers.size()) + " trigger(s), store "
        + node.data_dir + " (last seq " + std::to_string(d.db->last_seq())
        + ")");
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
