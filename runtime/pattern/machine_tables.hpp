// The machine's hashing, its index key encodings and its two open-addressing
// hash tables: index keys to posting lists, event paths to leaf ids (private:
// only runtime/pattern/*.cpp include it). Everything is inline: match() calls
// it for every field.
#pragma once

#include "runtime/pattern/pattern.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rouse::pattern::detail {

inline constexpr uint32_t none = std::numeric_limits<uint32_t>::max();

// --- hashing -----------------------------------------------------------------

inline uint64_t mix(uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

inline uint64_t load64(const char* p) noexcept {
  uint64_t w;
  std::memcpy(&w, p, sizeof(w));
  return w;
}

inline uint64_t load32(const char* p) noexcept {
  uint32_t w;
  std::memcpy(&w, p, sizeof(w));
  return w;
}

inline uint64_t hash_bytes(const char* p, std::size_t n,
                           uint64_t seed) noexcept {
  uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
  const char* end = p + n;
  uint64_t last = 0;
  if (n >= 8) {
    for (; end - p > 8; p += 8) {
      h = (h ^ load64(p)) * 0xff51afd7ed558ccdULL;
      h ^= h >> 32;
    }
    last = load64(end - 8); // overlaps the previous word when n % 8 != 0
  } else if (n >= 4) {
    last = load32(p) << 32 | load32(end - 4);
  } else if (n > 0) {
    last = static_cast<uint64_t>(static_cast<uint8_t>(p[0])) << 16
           | static_cast<uint64_t>(static_cast<uint8_t>(p[n / 2])) << 8
           | static_cast<uint8_t>(p[n - 1]);
  }
  return mix(h ^ last);
}

/// Index key kinds: exact values by JSON kind, case-folded strings, CIDR
/// blocks.
enum key_tag : char {
  tag_string = 'S',
  tag_number = 'N',
  tag_true = 'T',
  tag_false = 'F',
  tag_null = 'Z',
  tag_lower = 'L',
  tag_cidr = 'C',
  tag_prefix = 'P',
  tag_suffix = 'X',
  tag_prefix_ic = 'p',
  tag_suffix_ic = 'x',
  tag_range = 'R',
  tag_presence = 'E',
};

inline uint64_t key_seed(uint32_t path, char tag) noexcept {
  return mix((uint64_t{path} << 8) | static_cast<uint8_t>(tag));
}

inline double canonical(double x) noexcept {
  return x == 0 ? 0.0 : x;
}

inline char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Writes the index key of the first `bits` bits of `addr` to `out` (at least
/// 17 bytes): the bit count, then the masked 4 or 16 address bytes. Returns
/// the key's size.
inline std::size_t write_masked(const cidr_block& addr, int bits,
                                char* out) noexcept {
  std::size_t n = addr.ipv6 ? 16 : 4;
  out[0] = static_cast<char>(bits);
  for (std::size_t byte = 0; byte < n; ++byte) {
    int left = bits - static_cast<int>(byte) * 8;
    uint8_t mask = left >= 8   ? uint8_t{0xFF}
                   : left <= 0 ? uint8_t{0}
                               : static_cast<uint8_t>(0xFF << (8 - left));
    out[byte + 1] = static_cast<char>(addr.address[byte] & mask);
  }
  return n + 1;
}

// --- hash tables -------------------------------------------------------------

/// An open-addressing hash table from (path, tag, key bytes) to a posting
/// list.
class key_table {
public:
  /// Keys up to this size live in their slot, so that a hit costs one cache
  /// line.
  static constexpr std::size_t inline_key = 32;

  struct alignas(64) slot {
    uint64_t hash = 0;
    uint32_t path = none;
    uint32_t key_begin = 0; // in keys_, for longer keys
    uint32_t key_size = 0;
    uint32_t post_begin = 0;
    uint32_t post_end = 0;
    char tag = 0;
    char key[inline_key] = {};
  };

  void reserve(std::size_t n) {
    std::size_t cap = 16;
    while (cap < n + n / 2) // load factor at most 2/3
      cap *= 2;
    slots_.assign(cap, slot{});
    mask_ = cap - 1;
  }

  void insert(uint32_t path, char tag, std::string_view key,
              uint32_t post_begin, uint32_t post_end) {
    uint64_t h = hash(path, tag, key.data(), key.size());
    std::size_t i = h & mask_;
    while (slots_[i].path != none)
      i = (i + 1) & mask_;
    auto& s = slots_[i];
    s.hash = h;
    s.path = path;
    s.tag = tag;
    s.key_size = static_cast<uint32_t>(key.size());
    s.post_begin = post_begin;
    s.post_end = post_end;
    if (key.size() <= inline_key) {
      std::copy(key.begin(), key.end(), s.key);
    } else {
      s.key_begin = static_cast<uint32_t>(keys_.size());
      keys_.append(key);
    }
  }

  /// Returns the hash find() expects for a key.
  static uint64_t hash(uint32_t path, char tag, const char* key,
                       std::size_t size) noexcept {
    return hash_bytes(key, size, key_seed(path, tag));
  }

  void prefetch(uint64_t h) const noexcept {
    if (!slots_.empty())
      __builtin_prefetch(&slots_[h & mask_]);
  }

  const slot* find(uint64_t h, uint32_t path, char tag, const char* key,
                   std::size_t size) const noexcept {
    if (slots_.empty())
      return nullptr;
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const auto& s = slots_[i];
      if (s.path == none)
        return nullptr;
      if (s.hash == h && s.path == path && s.tag == tag && s.key_size == size
          && std::memcmp(size <= inline_key ? s.key
                                            : keys_.data() + s.key_begin,
                         key, size)
                 == 0)
        return &s;
    }
  }

  std::size_t memory_bytes() const noexcept {
    return slots_.capacity() * sizeof(slot) + keys_.capacity();
  }

private:
  std::vector<slot> slots_;
  std::string keys_;
  std::size_t mask_ = 0;
};

/// An open-addressing hash table of path strings: each leaf path with its id,
/// and each prefix of a leaf path that ends before a '.' ("interior").
class path_table {
public:
  struct slot {
    uint64_t hash = 0;
    uint32_t text_begin = 0;
    uint32_t text_size = 0;
    uint32_t leaf = none;
    bool interior = false;
    bool used = false;
  };

  void build(const std::vector<std::string>& leaves) {
    std::vector<std::pair<std::string_view, uint32_t>> entries;
    for (uint32_t i = 0; i < leaves.size(); ++i) {
      entries.emplace_back(leaves[i], i);
      for (std::size_t dot = leaves[i].find('.'); dot != std::string::npos;
           dot = leaves[i].find('.', dot + 1))
        entries.emplace_back(std::string_view{leaves[i]}.substr(0, dot), none);
    }
    std::size_t cap = 16;
    while (cap < entries.size() * 2)
      cap *= 2;
    slots_.assign(cap, slot{});
    mask_ = cap - 1;
    for (auto [text, leaf] : entries) {
      slot& s = find_or_add(text);
      if (leaf != none)
        s.leaf = leaf;
      else
        s.interior = true;
    }
  }

  /// Returns the entry of `text`, or nullptr. A filter over length and last
  /// bytes answers most misses without hashing.
  const slot* find(std::string_view text) const noexcept {
    uint64_t bit = filter_bit(text);
    if (!(filter_[bit >> 6] >> (bit & 63) & 1))
      return nullptr;
    uint64_t h = hash_bytes(text.data(), text.size(), 0);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const slot& s = slots_[i];
      if (!s.used)
        return nullptr;
      if (s.hash == h && s.text_size == text.size()
          && std::memcmp(texts_.data() + s.text_begin, text.data(), text.size())
                 == 0)
        return &s;
    }
  }

  std::size_t memory_bytes() const noexcept {
    return slots_.capacity() * sizeof(slot) + texts_.capacity();
  }

private:
  static uint64_t filter_bit(std::string_view text) noexcept {
    const char* p = text.data();
    std::size_t n = text.size();
    uint64_t tail = n >= 8   ? load64(p + n - 8)
                    : n >= 4 ? load32(p) << 32 | load32(p + n - 4)
                    : n > 0
                        ? static_cast<uint64_t>(static_cast<uint8_t>(p[0])) << 8
                              | static_cast<uint8_t>(p[n - 1])
                        : 0;
    return ((tail ^ n * 0x9e3779b97f4a7c15ULL) * 0xbf58476d1ce4e5b9ULL) >> 54;
  }

  slot& find_or_add(std::string_view text) {
    uint64_t bit = filter_bit(text);
    filter_[bit >> 6] |= uint64_t{1} << (bit & 63);
    uint64_t h = hash_bytes(text.data(), text.size(), 0);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      slot& s = slots_[i];
      if (!s.used) {
        s.used = true;
        s.hash = h;
        s.text_begin = static_cast<uint32_t>(texts_.size());
        s.text_size = static_cast<uint32_t>(text.size());
        texts_.append(text);
        return s;
      }
      if (s.hash == h && s.text_size == text.size()
          && std::memcmp(texts_.data() + s.text_begin, text.data(), text.size())
                 == 0)
        return s;
    }
  }

  std::vector<slot> slots_{1};
  std::string texts_;
  std::size_t mask_ = 0;
  uint64_t filter_[16] = {}; // 1024 bits
};

} // namespace rouse::pattern::detail
