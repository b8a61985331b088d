// bench_governor: how many admissions per second does one trigger's governor
// (actors/governor around runtime/flow/scheduler) pass with no policy, with a
// keyed concurrency limit of 1 over 1 and over 100,000 keys, with a rate limit
// over 100,000 keys and with priorities, and how much latency does each policy
// add per run compared with no policy, measured in the same process?
//
// A stand-in dispatcher notes when each launch arrives and at once sends the
// release back and admits the next run (if the window allows), so slots free
// as fast as the actors allow (a real dispatcher runs a handler in between).
// Every case runs on a fresh governor and stand-in; CAF runs --threads workers
// with the `sharing` policy, as `rouse serve` does.
//
// Parts (--parts, default throughput,latency,scheduler; run in this order):
//   throughput  --n runs per case. At most --window runs are admitted and not
//               launched (default 100,000: the journal's high_water_runs
//               backpressure); --window 0 sends all --n at once from the main
//               thread. Reports runs/s from the first admit sent to the last
//               launch received, and peak RSS (VmHWM, reset per case).
//   latency     --latency-n runs one at a time (the next is admitted when the
//               previous one launches; the cases take turns in
//               --latency-rounds rounds): admit sent -> launch received, p50
//               and p99, and the difference to `none`.
//   scheduler   the same cases on flow::scheduler alone (no actors, no
//               messages, pre-built items), with --window runs held and with
//               one at a time: ns and heap allocations per run (admit +
//               release), to split the cost between scheduler and actors.
// An unreported `none` warm-up runs first. A counting operator new (one
// thread-local increment) is linked in for the scheduler part.
//
// Run: build-bench/bench/governor/bench_governor [--n 1000000]
//        [--window 100000] [--latency-n 20000] [--latency-rounds 5]
//        [--parts ...] [--cases ...]
//        [--threads 2] [--policy sharing|stealing] [--admit-first]
// Cases: none, concurrency_1key, concurrency_100k_keys, rate_100k_keys,
// priority. Output: one `governor part=... case=...` line per measurement,
// then `governor summary` lines.
#include "actors/governor.hpp"
#include "messages/clock.hpp"
#include "runtime/flow/scheduler.hpp"

#include <caf/all.hpp>

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <vector>

namespace {

/// Heap allocations made by this thread (counted by the operator new below;
/// read by the scheduler part, which runs on the main thread only).
thread_local uint64_t allocations = 0;

} // namespace

void* operator new(std::size_t size) {
  ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size))
    return p;
  throw std::bad_alloc{};
}

using namespace rouse;

namespace {

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Returns a line of /proc/self/status (e.g. "VmHWM") in MiB.
double status_mib(const char* key) {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  std::string prefix = std::string{key} + ":";
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0)
      return std::strtod(line.c_str() + prefix.size(), nullptr) / 1024.0;
  return 0;
}

/// Gives freed heap back to the OS and resets VmHWM to the current RSS, so
/// the next VmHWM is the peak of what follows.
void reset_peak_rss() {
  malloc_trim(0);
  std::ofstream{"/proc/self/clear_refs"} << "5";
}

// --- cases -------------------------------------------------------------------

enum class key_field { none, concurrency, rate };

struct bench_case {
  std::string name;
  flow_settings policy;
  /// Distinct keys, given round-robin; 0: no key.
  uint32_t keys = 0;
  key_field field = key_field::none;
  /// Each run gets a pseudo-random priority in [0, 100).
  bool priorities = false;
};

std::vector<bench_case> all_cases() {
  std::vector<bench_case> cs;
  cs.push_back({"none", {}, 0, key_field::none, false});
  flow_settings keyed;
  keyed.concurrency = 1;
  keyed.concurrency_keyed = true;
  cs.push_back({"concurrency_1key", keyed, 1, key_field::concurrency, false});
  cs.push_back(
      {"concurrency_100k_keys", keyed, 100'000, key_field::concurrency, false});
  flow_settings rate;
  rate.rate_limit = 1'000'000;
  rate.rate_per_ns = 1'000'000'000;
  cs.push_back({"rate_100k_keys", rate, 100'000, key_field::rate, false});
  flow_settings prio;
  prio.concurrency = 64;
  prio.priority = true;
  cs.push_back({"priority", prio, 0, key_field::none, true});
  return cs;
}

/// A key as a template like `{{ data.repository.full_name }}` renders it:
/// 16 characters, one more than fits in a std::string without allocating.
std::string key_for(uint32_t k) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "acme/repo-%06" PRIu32, k);
  return buf;
}

int64_t priority_for(uint64_t i) {
  return static_cast<int64_t>((i * 0x9E3779B97F4A7C15ull) >> 57) % 100;
}

/// The runs of one case, built as a router shard builds them. Ids are made
/// before the clock starts; make() moves one in and copies the key.
struct run_source {
  run_source(const bench_case& c, uint64_t n) : c(c) {
    ids.reserve(n);
    for (uint64_t i = 0; i < n; ++i)
      ids.push_back(make_run_id(i + 1, "bench"));
    for (uint32_t k = 0; k < c.keys; ++k)
      keys.push_back(key_for(k));
  }

  run_record make(uint64_t i) {
    run_record run;
    run.id = std::move(ids[i]);
    run.trigger = "bench";
    run.event_seq = i + 1;
    run.event_type = "com.github.push";
    run.state = static_cast<uint8_t>(run_state::pending);
    run.created_ns = wall_clock_ns();
    if (c.field == key_field::concurrency)
      run.flow.concurrency_key = keys[i % keys.size()];
    else if (c.field == key_field::rate)
      run.flow.rate_key = keys[i % keys.size()];
    if (c.priorities)
      run.flow.priority = priority_for(i);
    return run;
  }

  const bench_case& c;
  std::vector<std::string> ids;
  std::vector<std::string> keys;
};

/// What a case recorded. sent_ns[i] is written by whoever admits run i (the
/// main thread for the first window, the stand-in after), launch_ns[i] by the
/// stand-in; the main thread reads both after `done`.
struct case_log {
  explicit case_log(uint64_t n) : sent_ns(n), launch_ns(n) {}
  std::vector<int64_t> sent_ns;
  std::vector<int64_t> launch_ns;
  uint64_t skipped = 0;
  std::promise<void> done;
};

// --- the stand-in dispatcher
// ---------------------------------------------------

struct stand_in_state {
  governor_actor governor;
  std::shared_ptr<run_source> src;
  std::shared_ptr<case_log> log;
  uint64_t n = 0;
  /// The next run to admit (runs before it were admitted).
  uint64_t next = 0;
  /// Runs launched or skipped.
  uint64_t settled = 0;
  /// Admit one run per run settled (window mode).
  bool refill = false;
  /// Admit the next run before the release goes back (--admit-first).
  bool admit_first = false;
  static inline const char* name = "stand_in";
};

using stand_in_pointer = caf::stateful_actor<stand_in_state>*;

// One run left the governor: admit the next one (window mode).
void on_settled(stand_in_pointer self) {
  auto& st = self->state;
  if (st.refill && st.next < st.n) {
    auto i = st.next++;
    auto run = st.src->make(i);
    st.log->sent_ns[i] = steady_ns();
    self->send(st.governor, admit_atom::value, std::move(run));
  }
  if (++st.settled == st.n)
    st.log->done.set_value();
}

caf::behavior stand_in(stand_in_pointer self, std::shared_ptr<run_source> src,
                       std::shared_ptr<case_log> log, uint64_t n,
                       uint64_t first, bool refill, bool admit_first) {
  auto& st = self->state;
  st.src = std::move(src);
  st.log = std::move(log);
  st.n = n;
  st.next = first;
  st.refill = refill;
  st.admit_first = admit_first;
  return {
      [=](caf::actor& governor) {
        self->state.governor =
            caf::actor_cast<governor_actor>(std::move(governor));
      },
      [=](launch_atom, run_record& run) {
        self->state.log->launch_ns[run.event_seq - 1] = steady_ns();
        // Release first (the default): then every case ends the governor's
        // turn with the launch, which the same worker runs next. With the
        // admission first, `none` launches and then still handles the
        // release, so its launch waits for the other worker to wake up, while
        // a keyed case launches last, from the release.
        if (self->state.admit_first)
          on_settled(self);
        // As the dispatcher releases a run that succeeded.
        self->send(self->state.governor, release_atom::value, std::move(run.id),
                   int8_t{1}, -1.0);
        if (!self->state.admit_first)
          on_settled(self);
      },
      [=](skip_atom, run_record&, uint8_t, std::string&) {
        ++self->state.log->skipped;
        on_settled(self);
      },
      [=](batch_atom, run_record&, std::vector<run_record>&) {
        std::fprintf(stderr, "unexpected batch decision\n");
        std::abort();
      },
      [=](notice_atom, std::string&, std::string&, std::string&) {
        // Circuit breaker notices: the breaker is off in every case.
      },
  };
}

// --- one case through the actors ---------------------------------------------

struct percentiles {
  double p50_us = 0, p99_us = 0, max_us = 0;
};

percentiles summarize(std::vector<int64_t> ns) {
  percentiles r;
  if (ns.empty())
    return r;
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) {
    return ns[static_cast<std::size_t>(q * (ns.size() - 1))] / 1e3;
  };
  r.p50_us = at(0.50);
  r.p99_us = at(0.99);
  r.max_us = ns.back() / 1e3;
  return r;
}

struct case_result {
  double runs_per_s = 0;
  double seconds = 0;
  /// Admit sent -> launch received, per run.
  std::vector<int64_t> wait_ns;
  percentiles wait;
  uint64_t skipped = 0;
  int64_t held_after = 0;
  double rss_start_mib = 0;
  double peak_rss_mib = 0;
};

/// Runs `n` runs of `c` through a fresh governor, at most `window` admitted
/// and not launched (0: all sent at once).
case_result run_case(caf::actor_system& sys, const bench_case& c, uint64_t n,
                     uint64_t window, bool admit_first) {
  auto src = std::make_shared<run_source>(c, n);
  auto log = std::make_shared<case_log>(n);
  auto done = log->done.get_future();
  auto held = std::make_shared<std::atomic<int64_t>>(0);
  case_result res;
  reset_peak_rss();
  res.rss_start_mib = status_mib("VmRSS");
  const uint64_t first = window == 0 ? n : std::min(window, n);
  auto disp = sys.spawn(stand_in, src, log, n, first, window > 0, admit_first);
  governor_config gc;
  gc.trigger = "bench";
  gc.policy = c.policy;
  gc.dispatcher = caf::actor_cast<dispatcher_actor>(disp);
  gc.held = held;
  auto gov = spawn_governor(sys, std::move(gc));
  caf::anon_send(disp, caf::actor_cast<caf::actor>(gov));
  for (uint64_t i = 0; i < first; ++i) {
    auto run = src->make(i);
    log->sent_ns[i] = steady_ns();
    caf::anon_send(gov, admit_atom::value, std::move(run));
  }
  if (done.wait_for(std::chrono::minutes{5}) != std::future_status::ready) {
    std::fprintf(stderr, "case %s: not all runs launched after 5 min\n",
                 c.name.c_str());
    std::_Exit(1);
  }
  res.peak_rss_mib = status_mib("VmHWM");
  caf::anon_send_exit(gov, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(disp, caf::exit_reason::user_shutdown);
  gov = nullptr;
  disp = nullptr;
  sys.await_all_actors_done();
  auto last = *std::max_element(log->launch_ns.begin(), log->launch_ns.end());
  res.seconds = static_cast<double>(last - log->sent_ns[0]) / 1e9;
  res.runs_per_s = static_cast<double>(n) / res.seconds;
  res.wait_ns.resize(n);
  for (uint64_t i = 0; i < n; ++i)
    res.wait_ns[i] = log->launch_ns[i] - log->sent_ns[i];
  res.wait = summarize(res.wait_ns);
  res.skipped = log->skipped;
  res.held_after = held->load();
  return res;
}

// --- one case on the scheduler alone -----------------------------------------

struct scheduler_result {
  double ns_per_run = 0;
  double allocations_per_run = 0;
};

/// Drives flow::scheduler as the governor and stand-in do: the first window
/// admitted, then per launch the next admitted and the launched one released.
scheduler_result run_scheduler(const bench_case& c, uint64_t n,
                               uint64_t window) {
  run_source src{c, n};
  std::vector<flow::item> items;
  items.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    auto run = src.make(i);
    flow::item x;
    x.run_id = std::move(run.id);
    x.seq = run.event_seq;
    x.arrived_ns = run.created_ns;
    x.keys = std::move(run.flow);
    items.push_back(std::move(x));
  }
  flow::scheduler s{c.policy};
  std::vector<flow::decision> out;
  std::deque<std::string> launched;
  auto collect = [&] {
    for (auto& d : out)
      if (d.kind == flow::decision::launch)
        launched.push_back(std::move(d.run_id));
    out.clear();
  };
  const uint64_t first = window == 0 ? n : std::min(window, n);
  const auto allocations_before = allocations;
  const auto t0 = steady_ns();
  uint64_t next = 0;
  while (next < first) {
    s.admit(std::move(items[next++]), wall_clock_ns(), out);
    collect();
  }
  while (!launched.empty()) {
    auto id = std::move(launched.front());
    launched.pop_front();
    if (next < n) {
      s.admit(std::move(items[next++]), wall_clock_ns(), out);
      collect();
    }
    s.release(id, wall_clock_ns(), out, true);
    collect();
  }
  const auto elapsed = steady_ns() - t0;
  scheduler_result r;
  r.ns_per_run = static_cast<double>(elapsed) / static_cast<double>(n);
  r.allocations_per_run = static_cast<double>(allocations - allocations_before)
                          / static_cast<double>(n);
  if (s.running() != 0 || s.held() != 0)
    std::fprintf(stderr, "scheduler %s: %zu running, %zu held at the end\n",
                 c.name.c_str(), s.running(), s.held());
  return r;
}

// --- options and main
// ----------------------------------------------------------

struct options {
  uint64_t n = 1'000'000;
  uint64_t window = 100'000;
  uint64_t latency_n = 20'000;
  int latency_rounds = 5;
  std::string parts = "throughput,latency,scheduler";
  std::string cases =
      "none,concurrency_1key,concurrency_100k_keys,rate_100k_keys,priority";
  int threads = 2;
  std::string policy = "sharing";
  bool admit_first = false;
};

bool listed(const std::string& list, const std::string& name) {
  return ("," + list + ",").find("," + name + ",") != std::string::npos;
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--n")
      o.n = std::stoull(next());
    else if (a == "--window")
      o.window = std::stoull(next());
    else if (a == "--latency-n")
      o.latency_n = std::stoull(next());
    else if (a == "--latency-rounds")
      o.latency_rounds = std::stoi(next());
    else if (a == "--parts")
      o.parts = next();
    else if (a == "--cases")
      o.cases = next();
    else if (a == "--threads")
      o.threads = std::stoi(next());
    else if (a == "--policy")
      o.policy = next();
    else if (a == "--admit-first")
      o.admit_first = true;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      std::exit(2);
    }
  }
  if (o.n == 0 || o.latency_rounds <= 0
      || o.latency_n < static_cast<uint64_t>(o.latency_rounds)) {
    std::fprintf(stderr, "--n must be positive and --latency-n at least "
                         "--latency-rounds (> 0)\n");
    std::exit(2);
  }
  return o;
}

} // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  std::vector<bench_case> cases;
  for (auto& c : all_cases())
    if (listed(o.cases, c.name))
      cases.push_back(c);
  caf::actor_system_config cfg;
  std::istringstream no_ini;
  cfg.parse(caf::actor_system_config::string_list{}, no_ini);
  cfg.set("scheduler.max-threads", o.threads);
  cfg.set("scheduler.policy", caf::atom_from_string(o.policy));
  caf::actor_system sys{cfg};
  std::map<std::string, double> rate;
  std::map<std::string, percentiles> late;
  if (listed(o.parts, "throughput") || listed(o.parts, "latency")) {
    // Unreported: first-touch page faults and thread start-up would otherwise
    // land on the first case.
    bench_case warm_up;
    warm_up.name = "warm_up";
    run_case(sys, warm_up, std::min<uint64_t>(o.n, 200'000), o.window,
             o.admit_first);
  }
  if (listed(o.parts, "throughput")) {
    for (auto& c : cases) {
      auto r = run_case(sys, c, o.n, o.window, o.admit_first);
      rate[c.name] = r.runs_per_s;
      std::printf(
          "governor part=throughput case=%s n=%" PRIu64 " window=%" PRIu64
          " runs_per_s=%.0f seconds=%.3f wait_p50_us=%.1f wait_p99_us=%.1f "
          "skipped=%" PRIu64 " held_after=%" PRId64
          " rss_start_mib=%.1f peak_rss_mib=%.1f peak_delta_mib=%.1f\n",
          c.name.c_str(), o.n, o.window, r.runs_per_s, r.seconds, r.wait.p50_us,
          r.wait.p99_us, r.skipped, r.held_after, r.rss_start_mib,
          r.peak_rss_mib, r.peak_rss_mib - r.rss_start_mib);
      std::fflush(stdout);
    }
  }
  if (listed(o.parts, "latency")) {
    // The cases take turns, --latency-rounds times, so that drift in how CAF
    // places the two actors on its workers (which moves p50 by microseconds)
    // falls on every case alike; the samples of all rounds are pooled.
    const auto per_round = o.latency_n / o.latency_rounds;
    std::map<std::string, std::vector<int64_t>> pooled;
    std::map<std::string, std::pair<double, double>> round_p50;
    uint64_t skipped = 0;
    for (int round = 0; round < o.latency_rounds; ++round) {
      for (auto& c : cases) {
        auto r = run_case(sys, c, per_round, 1, o.admit_first);
        auto& all = pooled[c.name];
        all.insert(all.end(), r.wait_ns.begin(), r.wait_ns.end());
        auto& [lo, hi] = round_p50[c.name];
        lo = round == 0 ? r.wait.p50_us : std::min(lo, r.wait.p50_us);
        hi = round == 0 ? r.wait.p50_us : std::max(hi, r.wait.p50_us);
        skipped += r.skipped;
      }
    }
    for (auto& c : cases) {
      auto p = summarize(std::move(pooled[c.name]));
      late[c.name] = p;
      const auto base = late.count("none") ? late["none"] : p;
      std::printf("governor part=latency case=%s n=%" PRIu64
                  " rounds=%d p50_us=%.1f p99_us=%.1f max_us=%.1f"
                  " round_p50_us=%.1f-%.1f added_p50_us=%+.1f"
                  " added_p99_us=%+.1f skipped=%" PRIu64 "\n",
                  c.name.c_str(), per_round * o.latency_rounds,
                  o.latency_rounds, p.p50_us, p.p99_us, p.max_us,
                  round_p50[c.name].first, round_p50[c.name].second,
                  p.p50_us - base.p50_us, p.p99_us - base.p99_us, skipped);
    }
    std::fflush(stdout);
  }
  if (listed(o.parts, "scheduler")) {
    // With the throughput part's window (up to --window runs held) and with
    // one run at a time, as in the latency part.
    for (auto window : {o.window, uint64_t{1}})
      for (auto& c : cases) {
        reset_peak_rss();
        auto r = run_scheduler(c, o.n, window);
        std::printf(
            "governor part=scheduler case=%s n=%" PRIu64 " window=%" PRIu64
            " ns_per_run=%.0f runs_per_s=%.0f allocations_per_run=%.1f\n",
            c.name.c_str(), o.n, window, r.ns_per_run, 1e9 / r.ns_per_run,
            r.allocations_per_run);
        std::fflush(stdout);
      }
  }
  if (rate.count("none")) {
    std::printf("governor summary throughput");
    for (auto& [name, v] : rate)
      std::printf(" %s=%.0f/s(x%.2f)", name.c_str(), v, v / rate["none"]);
    std::printf("\n");
  }
  if (late.count("none")) {
    std::printf("governor summary latency_added_vs_none");
    for (auto& [name, p] : late)
      if (name != "none")
        std::printf(" %s=%+.1f/%+.1fus(p50/p99)", name.c_str(),
                    p.p50_us - late["none"].p50_us,
                    p.p99_us - late["none"].p99_us);
    std::printf("\n");
  }
  return 0;
}
