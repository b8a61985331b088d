// `rouse match`: dry-runs an event pattern against an event, offline. Uses the
// pattern compiler and the reference matcher (runtime/pattern), i.e. the
// documented semantics.
#include "runtime/daemon/commands.hpp"

#include "runtime/config/parse.hpp"
#include "runtime/json/cloudevent.hpp"
#include "runtime/pattern/pattern.hpp"
#include "runtime/pattern/reference.hpp"

#include <iostream>

namespace rouse::cli {

int match(const std::string& pattern_path, const std::string& event_path) {
  constexpr uint64_t max_file_bytes = 16 * 1024 * 1024;
  auto pattern_text = config::read_text_file(pattern_path, max_file_bytes);
  if (!pattern_text) {
    std::cerr << "rouse: " << describe(pattern_text.error()) << "\n";
    return 2;
  }
  auto event_text = config::read_text_file(event_path, max_file_bytes);
  if (!event_text) {
    std::cerr << "rouse: " << describe(event_text.error()) << "\n";
    return 2;
  }
  auto compiled = pattern::compile(*pattern_text, "on");
  if (!compiled) {
    std::cerr << "rouse: invalid pattern in " << pattern_path << ": "
              << describe(compiled.error()) << "\n";
    return 2;
  }
  json::decode_options opts;
  opts.generate_missing_id = true;
  auto ev = json::decode_event(*event_text, opts);
  if (!ev) {
    std::cerr << "rouse: invalid event in " << event_path << ": "
              << describe(ev.error()) << "\n";
    return 2;
  }
  // Match the event as rouse stores and routes it (normalized CloudEvent JSON).
  if (pattern::reference_match(*compiled, json::encode_cloudevent(*ev))) {
    std::cout << "match\n";
    return 0;
  }
  std::cout << "no match\n";
  return 1;
}

} // namespace rouse::cli
