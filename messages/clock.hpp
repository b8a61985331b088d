// Wall-clock time in the unit every stored timestamp uses.
#pragma once

#include <chrono>
#include <cstdint>

namespace rouse {

/// Returns system_clock time in nanoseconds since the epoch.
inline int64_t wall_clock_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace rouse
