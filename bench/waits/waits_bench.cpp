// How fast does the dispatcher find the runs an event wakes, with N runs
// waiting for events? Compares match::wait_set (one pattern machine plus a
// short list of recent waits) with trying every wait's own matcher, the
// design before it. Per N: waits added per second (including the machine
// machine builds), events matched per second by each, and agreement between
// them.
//
// Run: build-bench/bench/waits/bench_waits [--sizes 100,1000,10000,100000]
//        [--events 2000] [--seconds 1]
// Output: one `waits n=... key=value ...` line per size.
#include "messages/errc.hpp"
#include "runtime/match/wait_set.hpp"
#include "runtime/pattern/pattern.hpp"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace rouse;

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

// What agent runs wait for: an approval or a CI result about their own pull
// request, or a deploy of their own commit. Each wait names its own number or
// sha, so an event wakes one or two waits.
std::string wait_pattern(uint64_t i) {
  auto n = std::to_string(i);
  switch (i % 3) {
  case 0:
    return R"({"type":["github.pull_request_review"],"data":{"review":{"state":["approved"]},"pull_request":{"number":[)"
           + n + "]}}}";
  case 1:
    return R"({"type":["ci.run.completed"],"data":{"sha":["sha-)" + n
           + R"("],"conclusion":[{"anything-but":["cancelled"]}]}})";
  default:
    return R"({"type":[{"prefix":"deploy."}],"subject":["svc-)" + n + R"("]})";
  }
}

event make_event(std::mt19937_64& rng, uint64_t waits, uint64_t seq) {
  auto i = rng() % (waits * 2); // half the events wake nobody
  auto n = std::to_string(i);
  event ev;
  ev.id = "e" + std::to_string(seq);
  ev.source = "bench";
  ev.seq = seq;
  switch (i % 3) {
  case 0:
    ev.type = "github.pull_request_review";
    ev.data =
        R"({"action":"submitted","review":{"state":"approved","body":"lgtm"},"pull_request":{"number":)"
        + n + R"(,"title":"change","user":{"login":"octo"}}})";
    break;
  case 1:
    ev.type = "ci.run.completed";
    ev.data = R"({"repo":"org/repo","ref":"refs/heads/main","sha":"sha-)" + n
              + R"(","workflow":"ci","conclusion":"success"})";
    break;
  default:
    ev.type = "deploy.finished";
    ev.subject = "svc-" + n;
    ev.data = R"({"env":"prod"})";
    break;
  }
  return ev;
}

struct options {
  std::vector<uint64_t> sizes{100, 1000, 10000, 100000};
  std::size_t events = 2000;
  double seconds = 1;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", a.c_str());
      std::exit(2);
    }
    std::string v = argv[++i];
    if (a == "--sizes") {
      o.sizes.clear();
      std::stringstream in{v};
      for (std::string part; std::getline(in, part, ',');)
        o.sizes.push_back(std::stoull(part));
    } else if (a == "--events") {
      o.events = std::stoul(v);
    } else if (a == "--seconds") {
      o.seconds = std::stod(v);
    } else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      std::exit(2);
    }
  }
  return o;
}

// Matches events round-robin for about `seconds` (at least one event);
// returns events per second.
template <class F>
double rate(const std::vector<event>& events, double seconds, F&& match_one) {
  std::size_t done = 0;
  auto t = clock_type::now();
  do
    match_one(events[done++ % events.size()]);
  while (seconds_since(t) < seconds);
  return done / seconds_since(t);
}

} // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  for (auto n : o.sizes) {
    std::vector<std::shared_ptr<const pattern::pattern>> patterns;
    patterns.reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      auto p = pattern::compile(wait_pattern(i));
      if (!p) {
        std::fprintf(stderr, "pattern %" PRIu64 ": %s\n", i,
                     describe(p.error()).c_str());
        return 1;
      }
      patterns.push_back(std::make_shared<const pattern::pattern>(*p));
    }
    // The wait set, filled one wait at a time as runs start waiting.
    match::wait_set set;
    auto t = clock_type::now();
    for (uint64_t i = 0; i < n; ++i)
      set.add("run-" + std::to_string(i), patterns[i]);
    auto add_s = seconds_since(t);
    // The previous design: one matcher per wait, each tried in turn.
    std::vector<std::pair<std::string, std::shared_ptr<const match::matcher>>>
        linear;
    linear.reserve(n);
    for (uint64_t i = 0; i < n; ++i)
      linear.emplace_back("run-" + std::to_string(i),
                          match::make_pattern_matcher({patterns[i]}));

    std::mt19937_64 rng{n};
    std::vector<event> events;
    for (std::size_t k = 0; k < o.events; ++k)
      events.push_back(make_event(rng, n, k + 1));

    std::vector<std::string> woken;
    std::vector<uint32_t> hits;
    auto by_set = [&](const event& ev) {
      woken.clear();
      set.match(ev, woken);
    };
    auto by_linear = [&](const event& ev) {
      woken.clear();
      for (const auto& [id, m] : linear) {
        hits.clear();
        m->match(ev, hits);
        if (!hits.empty())
          woken.push_back(id);
      }
    };
    // Trying every wait is slow at large n: compare on fewer events there.
    auto checked = std::min<std::size_t>(
        events.size(),
        std::max<uint64_t>(20, 2'000'000 / std::max<uint64_t>(n, 1)));
    std::size_t disagreements = 0, wakes = 0;
    for (std::size_t k = 0; k < checked; ++k) {
      const auto& ev = events[k];
      by_set(ev);
      auto a = woken;
      by_linear(ev);
      std::sort(a.begin(), a.end());
      std::sort(woken.begin(), woken.end());
      disagreements += a != woken;
      wakes += a.size();
    }
    auto set_eps = rate(events, o.seconds, by_set);
    auto linear_eps = rate(events, o.seconds, by_linear);
    std::printf("waits n=%" PRIu64 " adds_per_s=%.0f builds=%" PRIu64
                " levels=%zu"
                " wakes_per_event=%.2f set_eps=%.0f linear_eps=%.0f "
                "speedup=%.1f checked=%zu disagreements=%zu\n",
                n, n / add_s, set.builds(), set.levels(),
                static_cast<double>(wakes) / checked, set_eps, linear_eps,
                set_eps / linear_eps, checked, disagreements);
    std::fflush(stdout);
    if (disagreements > 0)
      return 1;
  }
  return 0;
}
