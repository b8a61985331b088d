// The condition tests match() runs on a field's value, on conditions in
// program layout; they mirror test_condition() without allocating (private:
// only runtime/pattern/*.cpp include it). Inline, so that they inline into
// the matcher's evaluation.
#pragma once

#include "runtime/pattern/machine_scratch.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace rouse::pattern::detail {

// --- condition tests (mirror test_condition, without allocating) ------------

inline bool starts_with(std::string_view s, std::string_view p) noexcept {
  return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

inline bool ends_with(std::string_view s, std::string_view p) noexcept {
  return s.size() >= p.size()
         && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

/// Compares `s` folded to lower case with the already lower-case `p`.
inline bool equal_folded(const char* s, const char* p, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    if (lower(s[i]) != p[i])
      return false;
  return true;
}

/// Matches `s` against a glob stored as 2 bytes per token (star flag, byte).
inline bool glob_match(const char* glob, std::size_t glob_size,
                       std::string_view s) noexcept {
  auto star = [&](std::size_t g) { return glob[2 * g] != 0; };
  auto byte = [&](std::size_t g) { return glob[2 * g + 1]; };
  std::size_t g = 0;
  std::size_t i = 0;
  std::size_t star_g = none;
  std::size_t star_i = 0;
  while (i < s.size()) {
    if (g < glob_size && !star(g) && byte(g) == s[i]) {
      ++g;
      ++i;
    } else if (g < glob_size && star(g)) {
      star_g = g++;
      star_i = i;
    } else if (star_g != none) {
      g = star_g + 1;
      i = ++star_i;
    } else {
      return false;
    }
  }
  while (g < glob_size && star(g))
    ++g;
  return g == glob_size;
}

inline bool in_range(const numeric_range& r, double x) noexcept {
  if (r.has_lower && (r.lower_inclusive ? x < r.lower : x <= r.lower))
    return false;
  if (r.has_upper && (r.upper_inclusive ? x > r.upper : x >= r.upper))
    return false;
  return true;
}

inline bool in_block(const cidr_block& block, const cidr_block& ip) noexcept {
  if (block.ipv6 != ip.ipv6)
    return false;
  int bits = block.prefix_bits;
  for (std::size_t byte = 0; bits > 0; ++byte, bits -= 8) {
    auto mask =
        bits >= 8 ? uint8_t{0xFF} : static_cast<uint8_t>(0xFF << (8 - bits));
    if ((block.address[byte] & mask) != (ip.address[byte] & mask))
      return false;
  }
  return true;
}

inline std::string_view text_of(const uint32_t* c) noexcept {
  return {reinterpret_cast<const char*>(c + 3), c[2]};
}

inline double double_at(const uint32_t* at) noexcept {
  double x;
  std::memcpy(&x, at, sizeof(x));
  return x;
}

/// Returns true if condition `c` (program layout) holds for `v`.
inline bool test(const uint32_t* c, const ifield& v) noexcept {
  bool is_string = v.kind == value_kind::string;
  std::string_view s = v.text;
  switch (static_cast<test_kind>(c[0] & 0xFF)) {
  case test_kind::exact: {
    auto kind = static_cast<value_kind>(c[0] >> 8 & 0xFF);
    if (v.kind != kind)
      return false;
    if (kind == value_kind::number)
      return v.number == double_at(c + 2);
    return !is_string || s == text_of(c);
  }
  case test_kind::prefix: return is_string && starts_with(s, text_of(c));
  case test_kind::suffix: return is_string && ends_with(s, text_of(c));
  case test_kind::equals_ignore_case: {
    auto t = text_of(c);
    return is_string && s.size() == t.size()
           && equal_folded(s.data(), t.data(), t.size());
  }
  case test_kind::prefix_ignore_case: {
    auto t = text_of(c);
    return is_string && s.size() >= t.size()
           && equal_folded(s.data(), t.data(), t.size());
  }
  case test_kind::suffix_ignore_case: {
    auto t = text_of(c);
    return is_string && s.size() >= t.size()
           && equal_folded(s.data() + s.size() - t.size(), t.data(), t.size());
  }
  case test_kind::wildcard:
    return is_string
           && glob_match(reinterpret_cast<const char*>(c + 3), c[2], s);
  case test_kind::numeric: {
    if (v.kind != value_kind::number)
      return false;
    numeric_range r;
    r.has_lower = (c[2] & 1) != 0;
    r.lower_inclusive = (c[2] & 2) != 0;
    r.has_upper = (c[2] & 4) != 0;
    r.upper_inclusive = (c[2] & 8) != 0;
    r.lower = double_at(c + 3);
    r.upper = double_at(c + 5);
    return in_range(r, v.number);
  }
  case test_kind::cidr: {
    cidr_block block;
    block.ipv6 = c[2] != 0;
    block.prefix_bits = static_cast<int>(c[3]);
    std::memcpy(block.address.data(), c + 4, block.address.size());
    cidr_block ip;
    return is_string && parse_ip(s, ip) && in_block(block, ip);
  }
  case test_kind::exists_true:
  case test_kind::exists_false: return false;
  case test_kind::anything_but: {
    const uint32_t* x = c + 3;
    for (uint32_t k = 0; k < c[2]; ++k, x += x[1])
      if (test(x, v))
        return false;
    return true;
  }
  }
  return false;
}

} // namespace rouse::pattern::detail
