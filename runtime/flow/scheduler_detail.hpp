// Private to runtime/flow/scheduler*.cpp: small helpers the scheduler's
// stages share for times and decision notes.
#pragma once

#include "runtime/config/config.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace rouse::flow::detail {

inline int64_t ns(std::chrono::milliseconds d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

/// "WHAT" or "WHAT (key "KEY")": a decision's note about a keyed policy.
inline std::string with_key(std::string_view what, const std::string& key) {
  std::string s{what};
  if (!key.empty())
    s += " (key \"" + key + "\")";
  return s;
}

/// A nanosecond duration the way a config writes it ("90s", "15m").
inline std::string format_ns(int64_t d) {
  return config::format_duration(std::chrono::milliseconds{d / 1'000'000});
}

} // namespace rouse::flow::detail
