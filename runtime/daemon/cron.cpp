// `rouse cron next`: prints the next fire times of a cron expression, offline.
// The schedule semantics live in runtime/cron (docs/cron.md).
#include "runtime/daemon/commands.hpp"

#include "runtime/cron/schedule.hpp"

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

namespace rouse::cli {

namespace {

cron::options make_options(const std::string& timezone,
                           const std::string& repeated,
                           const std::string& skipped) {
  cron::options opts;
  opts.timezone = timezone;
  opts.repeated = repeated == "twice" ? cron::repeated_hour::twice
                                      : cron::repeated_hour::once;
  opts.skipped =
      skipped == "skip" ? cron::skipped_hour::skip : cron::skipped_hour::shift;
  return opts;
}

/// Writes up to `count` fire times after `from_ns` to `out`; returns how many.
uint32_t print_fires(const cron::schedule& s, int64_t from_ns, uint32_t count,
                     std::ostream& out) {
  uint32_t printed = 0;
  int64_t t = from_ns;
  while (printed < count) {
    auto next = s.next(t);
    if (!next)
      break;
    out << s.format(*next) << '\n';
    t = *next;
    ++printed;
  }
  return printed;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::string part;
  std::istringstream in(line);
  while (std::getline(in, part, '\t'))
    out.push_back(part);
  return out;
}

/// Answers each `expr\tzone\tfrom\tcount[\trepeated\tskipped]` line of the
/// file: the fire times, or "error: <reason>", then a blank line. Lets the
/// differential test check thousands of cases in one process.
int run_batch(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "rouse: cannot read " << path << "\n";
    return 2;
  }
  std::string line;
  std::ostringstream out;
  while (std::getline(in, line)) {
    if (line.empty())
      continue;
    auto parts = split_tabs(line);
    if (parts.size() != 4 && parts.size() != 6) {
      out << "error: expected 4 or 6 tab-separated columns\n\n";
      continue;
    }
    auto opts = parts.size() == 6 ? make_options(parts[1], parts[4], parts[5])
                                  : make_options(parts[1], "once", "shift");
    auto parsed = cron::schedule::parse(parts[0], opts);
    if (auto* reason = std::get_if<std::string>(&parsed)) {
      out << "error: " << *reason << "\n\n";
      continue;
    }
    auto from = cron::parse_iso8601(parts[2], parts[1]);
    uint32_t count = 0;
    try {
      count = static_cast<uint32_t>(std::stoul(parts[3]));
    } catch (const std::exception&) {
      count = 0;
    }
    if (!from || count == 0 || count > 10000) {
      out << "error: invalid from or count\n\n";
      continue;
    }
    print_fires(std::get<cron::schedule>(parsed), *from, count, out);
    out << '\n';
  }
  std::cout << out.str();
  return 0;
}

} // namespace

int cron_next(const cron_next_args& args) {
  if (!args.batch_path.empty())
    return run_batch(args.batch_path);
  auto parsed = cron::schedule::parse(
      args.expr, make_options(args.timezone, args.repeated, args.skipped));
  if (auto* reason = std::get_if<std::string>(&parsed)) {
    std::cerr << "rouse: invalid cron expression \"" << args.expr
              << "\": " << *reason << "\n";
    return 2;
  }
  const auto& s = std::get<cron::schedule>(parsed);
  int64_t from_ns = 0;
  if (args.from.empty()) {
    from_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  } else {
    auto from = cron::parse_iso8601(args.from, args.timezone);
    if (!from) {
      std::cerr << "rouse: invalid --from \"" << args.from
                << "\": expected ISO 8601 like 2026-03-29T01:30:00+01:00, "
                   "2026-03-29T01:30:00Z or local 2026-03-29T01:30:00\n";
      return 2;
    }
    from_ns = *from;
  }
  auto printed = print_fires(s, from_ns, args.count, std::cout);
  if (printed < args.count)
    std::cerr << "rouse: no " << (printed == 0 ? "" : "more ")
              << "fire times within 10 years\n";
  return 0;
}

} // namespace rouse::cli
