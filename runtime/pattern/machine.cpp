// The fast pattern matcher: compiles each pattern into one contiguous program
// plus per-path indexes, finds candidate programs through the indexes and
// runs each candidate over the event's fields with the reference matcher's
// rules.
#include "runtime/pattern/machine.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace rouse::pattern {

namespace {

constexpr uint32_t none = std::numeric_limits<uint32_t>::max();
constexpr uint64_t unanchorable = std::numeric_limits<uint64_t>::max();

// --- hashing -----------------------------------------------------------------

uint64_t mix(uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

uint64_t load64(const char* p) noexcept {
  uint64_t w;
  std::memcpy(&w, p, sizeof(w));
  return w;
}

uint64_t load32(const char* p) noexcept {
  uint32_t w;
  std::memcpy(&w, p, sizeof(w));
  return w;
}

uint64_t hash_bytes(const char* p, std::size_t n, uint64_t seed) noexcept {
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

uint64_t key_seed(uint32_t path, char tag) noexcept {
  return mix((uint64_t{path} << 8) | static_cast<uint8_t>(tag));
}

double canonical(double x) noexcept {
  return x == 0 ? 0.0 : x;
}

char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// --- condition tests (mirror test_condition, without allocating) ------------

bool starts_with(std::string_view s, std::string_view p) noexcept {
  return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

bool ends_with(std::string_view s, std::string_view p) noexcept {
  return s.size() >= p.size()
         && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

/// Compares `s` folded to lower case with the already lower-case `p`.
bool equal_folded(const char* s, const char* p, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    if (lower(s[i]) != p[i])
      return false;
  return true;
}

/// Matches `s` against a glob stored as 2 bytes per token (star flag, byte).
bool glob_match(const char* glob, std::size_t glob_size,
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

bool in_range(const numeric_range& r, double x) noexcept {
  if (r.has_lower && (r.lower_inclusive ? x < r.lower : x <= r.lower))
    return false;
  if (r.has_upper && (r.upper_inclusive ? x > r.upper : x >= r.upper))
    return false;
  return true;
}

bool in_block(const cidr_block& block, const cidr_block& ip) noexcept {
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

/// Writes the index key of the first `bits` bits of `addr` to `out` (at least
/// 17 bytes): the bit count, then the masked 4 or 16 address bytes. Returns
/// the key's size.
std::size_t write_masked(const cidr_block& addr, int bits, char* out) noexcept {
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

// --- compiled pattern form ---------------------------------------------------
//
// The builder first compiles patterns into the struct form below (mnode,
// mrule, mgroup, mcond), picks anchors on it, then lays out each distinct
// pattern as one program: a run of 32-bit words, so that checking a candidate
// touches a few adjacent cache lines. Program layout:
//
//   node:   size, flags (1 = holds without fields), rule count, group count,
//           ref count, level size (length of the node's path), refs (leaf
//           path ids below the node), rules, groups
//   rule:   rule_leaf, size, path id, condition count, conditions
//           rule_nested, size, node
//   group:  alternative count, size, alternative nodes
//   cond:   kind | value kind << 8, size, payload: string (length, bytes),
//           number (2 words), glob (token count, 2 bytes per token: star
//           flag, byte), range (flags, lower, upper), block (ipv6, bits,
//           16 bytes), anything-but (count, excluded conditions)

enum class test_kind : uint8_t {
  exact,
  prefix,
  suffix,
  equals_ignore_case,
  prefix_ignore_case,
  suffix_ignore_case,
  wildcard,
  numeric,
  cidr,
  exists_true,
  exists_false,
  anything_but,
};

enum node_word : uint32_t {
  node_size,
  node_flags,
  node_rules,
  node_groups,
  node_refs,
  node_level,
  node_header
};

enum rule_word : uint32_t { rule_leaf, rule_nested };

/// One condition. `a` and `b` index the builder's arenas by kind: text
/// (offset, length) in `chars`, glob tokens (offset, length) in `globs`, an
/// index into `numbers`, `ranges` or `blocks`, or the excluded conditions
/// (begin, end) in `conds`.
struct mcond {
  test_kind kind = test_kind::exact;
  value_kind vkind = value_kind::null;
  uint32_t a = 0;
  uint32_t b = 0;
};

/// A field rule: a leaf over `path` with conditions [cond_begin, cond_end), or
/// a nested object whose node is `child`.
struct mrule {
  uint32_t path = none;
  uint32_t cond_begin = 0;
  uint32_t cond_end = 0;
  uint32_t child = none;
};

/// A pattern object: rules [rule_begin, rule_end) and $or groups
/// [group_begin, group_end). For a root or the node of a nested rule,
/// refs[ref_begin, ref_end) lists the leaf paths below it, used to tell
/// whether the event holds an array there, and `level_size` is the length
/// of its path.
struct mnode {
  uint32_t rule_begin = 0;
  uint32_t rule_end = 0;
  uint32_t group_begin = 0;
  uint32_t group_end = 0;
  uint32_t ref_begin = 0;
  uint32_t ref_end = 0;
  uint32_t level_size = 0;
  /// True if the node holds where the event has no field below it.
  bool matches_empty = false;
};

/// One $or group: alternative nodes alts[alt_begin, alt_end).
struct mgroup {
  uint32_t alt_begin = 0;
  uint32_t alt_end = 0;
};

/// Up to three bits of the event signature (see matcher) that every event
/// matching a program sets: one per leaf the program requires with a single
/// exact value.
struct required_bits {
  uint8_t count = 0;
  uint8_t bits[3] = {0, 0, 0};
};

/// One entry of a posting list: a program (its offset in the code) and its
/// required bits, side by side so that the signature check costs no extra
/// memory access.
struct posting {
  uint32_t code = 0;
  required_bits required;
};

/// One node of a path-compressed trie: the edge label leading to it (in
/// `head` if it fits, else trie_labels[label_begin, + label_size)), its
/// postings [post_begin, post_end), and `child_count` children, sorted by the
/// first byte of their labels: nodes first_child, first_child + 1, ...,
/// whose first bytes are trie_bytes[child_begin, + child_count).
struct trie_node {
  uint32_t label_begin = 0;
  uint32_t label_size = 0;
  uint32_t post_begin = 0;
  uint32_t post_end = 0;
  uint32_t child_begin = 0;
  uint32_t child_count = 0;
  uint32_t first_child = 0;
  char head[8] = {};

  const char* label(const std::string& labels) const noexcept {
    return label_size <= sizeof(head) ? head : labels.data() + label_begin;
  }
};

/// Numeric ranges of one path sorted by lower bound, with a max-upper segment
/// tree over them so a stabbing query costs O(log n + hits).
struct numeric_index {
  std::vector<numeric_range> ranges;
  std::vector<double> lower; // -inf when unbounded
  std::vector<posting> postings;
  std::vector<double> tree; // max upper bound per segment; +inf unbounded
  std::size_t leaves = 0;
};

enum trie_kind : uint8_t {
  trie_prefix,
  trie_suffix,
  trie_prefix_ic,
  trie_suffix_ic,
  trie_kinds
};

struct cidr_len {
  bool ipv6 = false;
  uint8_t bits = 0;
};

/// What is indexed for one path.
struct path_index {
  uint32_t presence_begin = 0;
  uint32_t presence_end = 0;
  uint32_t trie[trie_kinds] = {none, none, none, none};
  uint32_t numeric = none;
  uint32_t cidr_begin = 0;
  uint32_t cidr_end = 0;
  bool exact = false;
  bool folded = false;
  /// Exact values here feed the event signature.
  bool signature = false;
};

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

/// The context attributes flatten() emits, in the order of attribute_leaf.
constexpr const char* attribute_names[8] = {
    "id",   "source",          "type",      "specversion", "subject",
    "time", "datacontenttype", "dataschema"};

} // namespace

struct machine::impl {
  std::size_t patterns = 0;
  std::vector<std::string> paths; // sorted; a leaf's path id is its position
  std::vector<path_index> indexes;
  /// The programs, one per distinct pattern, each: the number of patterns it
  /// stands for, their ids (ascending), then its root node. Postings name a
  /// program by its offset here.
  std::vector<uint32_t> code;
  std::size_t programs = 0;
  /// Programs that can match without any field: checked for every event.
  std::vector<posting> always;
  std::size_t unanchored = 0; // patterns in `always` programs
  /// Posting lists of program ids.
  std::vector<posting> postings;
  key_table table;
  std::vector<trie_node> trie_nodes;
  std::vector<uint8_t> trie_bytes;
  std::string trie_labels;
  std::vector<numeric_index> numerics;
  std::vector<cidr_len> cidr_lens;
  /// Every leaf path and every prefix of one (at a '.'), for looking up event
  /// paths.
  path_table prefixes;
  /// The leaf path ids of the context attributes (in attribute_names order)
  /// and of data_base64, or none.
  uint32_t attribute_leaf[8] = {none, none, none, none, none, none, none, none};
  uint32_t base64_leaf = none;
  /// What "data" is: a leaf path, a prefix of longer ones, both or neither.
  const path_table::slot* data_entry = nullptr;
};

namespace {

// --- building ----------------------------------------------------------------

/// One index key under which a field matching a condition is sure to be found.
struct anchor_key {
  uint32_t path = none;
  char tag = 0;
  std::string bytes;
  numeric_range range; // for tag_range
  cidr_block block;    // for tag_cidr

  /// Returns the key's identity: conditions with equal ids share a posting
  /// list.
  std::string id() const {
    std::string s = popularity_id();
    if (tag == tag_range) {
      const double bounds[2] = {range.lower, range.upper};
      s.append(reinterpret_cast<const char*>(bounds), sizeof(bounds));
      s.push_back(static_cast<char>(range.has_lower | range.lower_inclusive << 1
                                    | range.has_upper << 2
                                    | range.upper_inclusive << 3));
      return s;
    }
    return tag == tag_presence ? s : s + bytes;
  }

  /// Returns the id that counts how many conditions compete for this key:
  /// ranges and presence keys compete with every key of their kind on the path,
  /// since they hold for values no key names.
  std::string popularity_id() const {
    std::string s(sizeof(path), '\0');
    std::memcpy(s.data(), &path, sizeof(path));
    s.push_back(tag);
    return tag == tag_range || tag == tag_presence ? s : s + bytes;
  }

  /// Returns how much less selective this kind of key is than an exact value.
  uint64_t weight() const noexcept {
    switch (tag) {
    case tag_prefix:
    case tag_suffix:
    case tag_prefix_ic:
    case tag_suffix_ic:
    case tag_cidr: return 2;
    case tag_range: return 4;
    case tag_presence: return 8;
    default: return 1;
    }
  }
};

std::string number_bytes(double x) {
  std::string s(sizeof(double), '\0');
  double c = canonical(x);
  std::memcpy(s.data(), &c, sizeof(double));
  return s;
}

std::string exact_bytes(const value& v, char& tag) {
  switch (v.kind) {
  case value_kind::string: tag = tag_string; return v.text;
  case value_kind::number: tag = tag_number; return number_bytes(v.number);
  case value_kind::true_value: tag = tag_true; return {};
  case value_kind::false_value: tag = tag_false; return {};
  case value_kind::null: tag = tag_null; return {};
  }
  tag = tag_null;
  return {};
}

/// Sets `k` to the index key under which a field matching `c` is sure to be
/// found; returns false for exists: false, which holds without any field.
bool key_of(const condition& c, uint32_t path, anchor_key& k) {
  k.path = path;
  switch (c.kind) {
  case op_kind::exact: k.bytes = exact_bytes(c.exact, k.tag); return true;
  case op_kind::prefix: k.tag = tag_prefix; break;
  case op_kind::suffix: k.tag = tag_suffix; break;
  case op_kind::equals_ignore_case: k.tag = tag_lower; break;
  case op_kind::prefix_ignore_case: k.tag = tag_prefix_ic; break;
  case op_kind::suffix_ignore_case: k.tag = tag_suffix_ic; break;
  case op_kind::wildcard: {
    // A literal head is a prefix key, else a literal tail a suffix key.
    std::size_t n = c.glob.size();
    std::size_t first_star = n;
    std::size_t last_star = n;
    for (std::size_t i = 0; i < n; ++i)
      if (c.glob[i].star) {
        first_star = std::min(first_star, i);
        last_star = i;
      }
    std::size_t from = 0;
    std::size_t to = 0;
    if (first_star == n) {
      k.tag = tag_string;
      to = n;
    } else if (first_star > 0) {
      k.tag = tag_prefix;
      to = first_star;
    } else if (last_star + 1 < n) {
      k.tag = tag_suffix;
      from = last_star + 1;
      to = n;
    } else {
      k.tag = tag_presence;
    }
    for (std::size_t i = from; i < to; ++i)
      k.bytes.push_back(c.glob[i].byte);
    return true;
  }
  case op_kind::numeric:
    if (c.range.has_lower && c.range.has_upper
        && c.range.lower == c.range.upper) {
      k.tag = tag_number;
      k.bytes = number_bytes(c.range.lower);
    } else {
      k.tag = tag_range;
      k.range = c.range;
    }
    return true;
  case op_kind::cidr: {
    k.tag = tag_cidr;
    k.block = c.block;
    char buf[17];
    k.bytes.assign(buf, write_masked(c.block, c.block.prefix_bits, buf));
    return true;
  }
  case op_kind::exists: k.tag = tag_presence; return c.exists;
  case op_kind::anything_but: k.tag = tag_presence; return true;
  }
  k.bytes = c.text;
  return true;
}

/// Builds one machine: compiles the patterns into the struct form (counting
/// how many conditions compete for each index key), lays out one program per
/// distinct pattern, anchors every program at its cheapest set of keys, then
/// lays out the indexes.
class builder {
public:
  explicit builder(machine::impl& m) : m_(m) {}

  void build(const std::vector<pattern>& patterns) {
    m_.patterns = patterns.size();
    std::vector<std::string> paths;
    for (const auto& p : patterns)
      collect_paths(p.root, {}, paths);
    std::sort(paths.begin(), paths.end());
    paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
    for (uint32_t i = 0; i < paths.size(); ++i)
      path_ids_.emplace(paths[i], i);
    m_.paths = std::move(paths);
    m_.indexes.resize(m_.paths.size());
    m_.prefixes.build(m_.paths);
    for (std::size_t a = 0; a < 8; ++a)
      if (const auto* e = m_.prefixes.find(attribute_names[a]))
        m_.attribute_leaf[a] = e->leaf;
    if (const auto* e = m_.prefixes.find("data_base64"))
      m_.base64_leaf = e->leaf;
    m_.data_entry = m_.prefixes.find("data");
    std::vector<uint32_t> roots;
    for (const auto& p : patterns) {
      std::vector<uint32_t> refs;
      roots.push_back(compile_node(p.root, {}, refs, true));
    }
    // Identical programs (same structure, paths and operands) run once.
    std::unordered_map<std::string, uint32_t> programs;
    std::vector<std::vector<uint32_t>> program_codes;
    std::vector<std::vector<uint32_t>> program_ids;
    std::vector<uint32_t> program_root;
    for (uint32_t i = 0; i < roots.size(); ++i) {
      std::vector<uint32_t> code;
      emit_node(roots[i], code);
      std::string key(reinterpret_cast<const char*>(code.data()),
                      code.size() * sizeof(uint32_t));
      auto [it, fresh] = programs.emplace(
          std::move(key), static_cast<uint32_t>(program_root.size()));
      if (fresh) {
        program_codes.push_back(std::move(code));
        program_ids.emplace_back();
        program_root.push_back(roots[i]);
      }
      program_ids[it->second].push_back(i);
    }
    // Program p: its pattern count, the ids, then its root node.
    for (std::size_t p = 0; p < program_root.size(); ++p) {
      program_code_.push_back(static_cast<uint32_t>(m_.code.size()));
      m_.code.push_back(static_cast<uint32_t>(program_ids[p].size()));
      m_.code.insert(m_.code.end(), program_ids[p].begin(),
                     program_ids[p].end());
      m_.code.insert(m_.code.end(), program_codes[p].begin(),
                     program_codes[p].end());
    }
    m_.programs = program_root.size();
    choices_.resize(nodes_.size());
    for (uint32_t p = 0; p < program_root.size(); ++p)
      program_required_.push_back(required(program_root[p]));
    for (uint32_t p = 0; p < program_root.size(); ++p) {
      if (cost(program_root[p]) == unanchorable) {
        m_.always.push_back(posting_of(p));
        m_.unanchored += program_ids[p].size();
      } else {
        register_anchor(program_root[p], p);
      }
    }
    build_indexes();
  }

private:
  /// The cheapest way to anchor a node: one of its rules, or one of its $or
  /// groups (then every alternative is anchored).
  struct anchor_choice {
    bool computed = false;
    bool group = false;
    uint32_t index = none;
    uint64_t cost = unanchorable;
  };

  /// Trie keys (reversed for suffixes) and their posting ranges.
  using trie_keys = std::map<std::string, std::pair<uint32_t, uint32_t>>;

  struct keyed_ids {
    anchor_key key;
    std::vector<uint32_t> ids;
  };

  static void collect_paths(const node& n, const std::string& prefix,
                            std::vector<std::string>& out) {
    for (const auto& f : n.fields) {
      std::string path = prefix.empty() ? f.name : prefix + "." + f.name;
      if (f.leaf)
        out.push_back(std::move(path));
      else
        collect_paths(f.nested.front(), path, out);
    }
    for (const auto& group : n.or_groups)
      for (const auto& alt : group)
        collect_paths(alt, prefix, out);
  }

  uint32_t add_text(std::string_view s) {
    auto at = static_cast<uint32_t>(chars_.size());
    chars_.append(s);
    return at;
  }

  /// Writes the machine form of `c` to conds[slot]; anything-but appends its
  /// excluded conditions at the end of conds.
  void compile_condition(const condition& c, uint32_t slot) {
    mcond mc;
    switch (c.kind) {
    case op_kind::exact:
      mc.vkind = c.exact.kind;
      if (c.exact.kind == value_kind::string) {
        mc.a = add_text(c.exact.text);
        mc.b = static_cast<uint32_t>(c.exact.text.size());
      } else if (c.exact.kind == value_kind::number) {
        mc.a = static_cast<uint32_t>(numbers_.size());
        numbers_.push_back(c.exact.number);
      }
      break;
    case op_kind::prefix: mc.kind = test_kind::prefix; break;
    case op_kind::suffix: mc.kind = test_kind::suffix; break;
    case op_kind::equals_ignore_case:
      mc.kind = test_kind::equals_ignore_case;
      break;
    case op_kind::prefix_ignore_case:
      mc.kind = test_kind::prefix_ignore_case;
      break;
    case op_kind::suffix_ignore_case:
      mc.kind = test_kind::suffix_ignore_case;
      break;
    case op_kind::wildcard:
      mc.kind = test_kind::wildcard;
      mc.a = static_cast<uint32_t>(globs_.size());
      mc.b = static_cast<uint32_t>(c.glob.size());
      globs_.insert(globs_.end(), c.glob.begin(), c.glob.end());
      break;
    case op_kind::numeric:
      mc.kind = test_kind::numeric;
      mc.a = static_cast<uint32_t>(ranges_.size());
      ranges_.push_back(c.range);
      break;
    case op_kind::cidr:
      mc.kind = test_kind::cidr;
      mc.a = static_cast<uint32_t>(blocks_.size());
      blocks_.push_back(c.block);
      break;
    case op_kind::exists:
      mc.kind = c.exists ? test_kind::exists_true : test_kind::exists_false;
      break;
    case op_kind::anything_but: {
      mc.kind = test_kind::anything_but;
      mc.a = static_cast<uint32_t>(conds_.size());
      mc.b = mc.a + static_cast<uint32_t>(c.excluded.size());
      conds_.resize(mc.b);
      for (uint32_t i = 0; i < c.excluded.size(); ++i)
        compile_condition(c.excluded[i], mc.a + i);
      break;
    }
    }
    switch (mc.kind) {
    case test_kind::prefix:
    case test_kind::suffix:
    case test_kind::equals_ignore_case:
    case test_kind::prefix_ignore_case:
    case test_kind::suffix_ignore_case:
      mc.a = add_text(c.text);
      mc.b = static_cast<uint32_t>(c.text.size());
      break;
    default: break;
    }
    conds_[slot] = mc;
  }

  /// Compiles `n`, whose fields live under `prefix`, and returns its node id;
  /// appends the leaf paths below it to `refs_out`. A `nested` node (the
  /// object of a nested rule, or a root) keeps them, to find arrays at its
  /// level.
  uint32_t compile_node(const node& n, const std::string& prefix,
                        std::vector<uint32_t>& refs_out, bool nested) {
    auto id = static_cast<uint32_t>(nodes_.size());
    nodes_.emplace_back();
    std::vector<uint32_t> refs;
    std::vector<mrule> rules;
    bool matches_empty = true;
    for (const auto& f : n.fields) {
      std::string path = prefix.empty() ? f.name : prefix + "." + f.name;
      mrule r;
      if (!f.leaf) {
        r.child = compile_node(f.nested.front(), path, refs, true);
        matches_empty = matches_empty && nodes_[r.child].matches_empty;
        rules.push_back(r);
        continue;
      }
      r.path = path_ids_.at(path);
      refs.push_back(r.path);
      r.cond_begin = static_cast<uint32_t>(conds_.size());
      r.cond_end = r.cond_begin + static_cast<uint32_t>(f.conditions.size());
      conds_.resize(r.cond_end);
      bool holds_absent = false;
      for (uint32_t i = 0; i < f.conditions.size(); ++i) {
        const auto& c = f.conditions[i];
        compile_condition(c, r.cond_begin + i);
        anchor_key k;
        if (key_of(c, r.path, k)) {
          ++popularity_[k.popularity_id()];
          keys_.emplace(r.cond_begin + i, std::move(k));
        } else {
          holds_absent = true;
        }
      }
      matches_empty = matches_empty && holds_absent;
      rules.push_back(r);
    }
    std::vector<mgroup> groups;
    for (const auto& group : n.or_groups) {
      std::vector<uint32_t> alt_ids;
      bool any_empty = false;
      for (const auto& alt : group) {
        alt_ids.push_back(compile_node(alt, prefix, refs, false));
        any_empty = any_empty || nodes_[alt_ids.back()].matches_empty;
      }
      matches_empty = matches_empty && any_empty;
      mgroup g;
      g.alt_begin = static_cast<uint32_t>(alts_.size());
      alts_.insert(alts_.end(), alt_ids.begin(), alt_ids.end());
      g.alt_end = static_cast<uint32_t>(alts_.size());
      groups.push_back(g);
    }
    auto& out = nodes_[id];
    out.rule_begin = static_cast<uint32_t>(rules_.size());
    rules_.insert(rules_.end(), rules.begin(), rules.end());
    out.rule_end = static_cast<uint32_t>(rules_.size());
    out.group_begin = static_cast<uint32_t>(groups_.size());
    groups_.insert(groups_.end(), groups.begin(), groups.end());
    out.group_end = static_cast<uint32_t>(groups_.size());
    out.matches_empty = matches_empty;
    std::sort(refs.begin(), refs.end());
    refs.erase(std::unique(refs.begin(), refs.end()), refs.end());
    if (nested) {
      out.level_size = static_cast<uint32_t>(prefix.size());
      out.ref_begin = static_cast<uint32_t>(refs_.size());
      refs_.insert(refs_.end(), refs.begin(), refs.end());
      out.ref_end = static_cast<uint32_t>(refs_.size());
    }
    refs_out.insert(refs_out.end(), refs.begin(), refs.end());
    return id;
  }

  static void emit_bytes(std::vector<uint32_t>& code, const void* bytes,
                         std::size_t size) {
    std::size_t at = code.size();
    code.resize(at + (size + 3) / 4, 0);
    if (size > 0)
      std::memcpy(code.data() + at, bytes, size);
  }

  static void emit_double(std::vector<uint32_t>& code, double x) {
    emit_bytes(code, &x, sizeof(x));
  }

  /// Appends node `node_id` in program layout (see "compiled pattern form").
  void emit_node(uint32_t node_id, std::vector<uint32_t>& code) const {
    const mnode n = nodes_[node_id];
    std::size_t at = code.size();
    code.insert(code.end(),
                {0, n.matches_empty ? 1u : 0u, n.rule_end - n.rule_begin,
                 n.group_end - n.group_begin, n.ref_end - n.ref_begin,
                 n.level_size});
    code.insert(code.end(), refs_.begin() + n.ref_begin,
                refs_.begin() + n.ref_end);
    for (uint32_t r = n.rule_begin; r < n.rule_end; ++r) {
      const mrule rule = rules_[r];
      std::size_t rule_at = code.size();
      if (rule.child != none) {
        code.insert(code.end(), {rule_nested, 0});
        emit_node(rule.child, code);
      } else {
        code.insert(code.end(),
                    {rule_leaf, 0, rule.path, rule.cond_end - rule.cond_begin});
        for (uint32_t c = rule.cond_begin; c < rule.cond_end; ++c)
          emit_cond(c, code);
      }
      code[rule_at + 1] = static_cast<uint32_t>(code.size() - rule_at);
    }
    for (uint32_t g = n.group_begin; g < n.group_end; ++g) {
      const mgroup group = groups_[g];
      std::size_t group_at = code.size();
      code.insert(code.end(), {group.alt_end - group.alt_begin, 0});
      for (uint32_t a = group.alt_begin; a < group.alt_end; ++a)
        emit_node(alts_[a], code);
      code[group_at + 1] = static_cast<uint32_t>(code.size() - group_at);
    }
    code[at + node_size] = static_cast<uint32_t>(code.size() - at);
  }

  void emit_cond(uint32_t index, std::vector<uint32_t>& code) const {
    const mcond c = conds_[index];
    std::size_t at = code.size();
    code.insert(code.end(), {static_cast<uint32_t>(c.kind)
                                 | static_cast<uint32_t>(c.vkind) << 8,
                             0});
    auto emit_text = [&] {
      code.push_back(c.b);
      emit_bytes(code, chars_.data() + c.a, c.b);
    };
    switch (c.kind) {
    case test_kind::exact:
      if (c.vkind == value_kind::string)
        emit_text();
      else if (c.vkind == value_kind::number)
        emit_double(code, numbers_[c.a]);
      break;
    case test_kind::prefix:
    case test_kind::suffix:
    case test_kind::equals_ignore_case:
    case test_kind::prefix_ignore_case:
    case test_kind::suffix_ignore_case: emit_text(); break;
    case test_kind::wildcard: {
      code.push_back(c.b);
      std::string tokens;
      for (uint32_t t = c.a; t < c.a + c.b; ++t) {
        tokens.push_back(globs_[t].star ? 1 : 0);
        tokens.push_back(globs_[t].byte);
      }
      emit_bytes(code, tokens.data(), tokens.size());
      break;
    }
    case test_kind::numeric: {
      const numeric_range& r = ranges_[c.a];
      code.push_back((r.has_lower ? 1u : 0u) | (r.lower_inclusive ? 2u : 0u)
                     | (r.has_upper ? 4u : 0u) | (r.upper_inclusive ? 8u : 0u));
      emit_double(code, r.lower);
      emit_double(code, r.upper);
      break;
    }
    case test_kind::cidr: {
      const cidr_block& b = blocks_[c.a];
      code.push_back(b.ipv6 ? 1u : 0u);
      code.push_back(static_cast<uint32_t>(b.prefix_bits));
      emit_bytes(code, b.address.data(), b.address.size());
      break;
    }
    case test_kind::anything_but:
      code.push_back(c.b - c.a);
      for (uint32_t k = c.a; k < c.b; ++k)
        emit_cond(k, code);
      break;
    case test_kind::exists_true:
    case test_kind::exists_false: break;
    }
    code[at + 1] = static_cast<uint32_t>(code.size() - at);
  }

  /// Returns the signature bits of up to three leaves that every match of
  /// the pattern at `root` needs: leaves reached without passing a $or whose
  /// only alternative is one exact value. Marks their paths as feeding the
  /// event signature.
  required_bits required(uint32_t root) {
    required_bits out;
    std::vector<uint32_t> pending{root};
    while (!pending.empty() && out.count < 3) {
      const mnode n = nodes_[pending.back()];
      pending.pop_back();
      for (uint32_t r = n.rule_begin; r < n.rule_end && out.count < 3; ++r) {
        const mrule rule = rules_[r];
        if (rule.child != none) {
          pending.push_back(rule.child);
          continue;
        }
        auto it = keys_.find(rule.cond_begin);
        if (rule.cond_end - rule.cond_begin != 1 || it == keys_.end()
            || !is_exact(it->second.tag))
          continue;
        const anchor_key& k = it->second;
        uint64_t h =
            key_table::hash(k.path, k.tag, k.bytes.data(), k.bytes.size());
        auto bit = static_cast<uint8_t>(h >> 56);
        if (std::find(out.bits, out.bits + out.count, bit)
            == out.bits + out.count)
          out.bits[out.count++] = bit;
        m_.indexes[k.path].signature = true;
      }
    }
    return out;
  }

  static bool is_exact(char tag) noexcept {
    return tag == tag_string || tag == tag_number || tag == tag_true
           || tag == tag_false || tag == tag_null;
  }

  static uint64_t add_costs(uint64_t a, uint64_t b) noexcept {
    if (a == unanchorable || b == unanchorable || a + b < a)
      return unanchorable;
    return a + b;
  }

  /// Returns the number of candidates a rule's keys are expected to produce,
  /// weighted by how unselective each kind of key is.
  uint64_t rule_cost(const mrule& r) {
    if (r.child != none)
      return cost(r.child);
    uint64_t total = 0;
    for (uint32_t c = r.cond_begin; c < r.cond_end; ++c) {
      auto it = keys_.find(c);
      if (it == keys_.end())
        return unanchorable;
      const auto& k = it->second;
      total =
          add_costs(total, k.weight() * (1 + popularity_[k.popularity_id()]));
    }
    return total;
  }

  uint64_t cost(uint32_t node_id) {
    if (choices_[node_id].computed)
      return choices_[node_id].cost;
    const mnode n = nodes_[node_id];
    anchor_choice best;
    best.computed = true;
    for (uint32_t r = n.rule_begin; r < n.rule_end; ++r)
      if (uint64_t c = rule_cost(rules_[r]); c < best.cost)
        best = {true, false, r, c};
    for (uint32_t g = n.group_begin; g < n.group_end; ++g) {
      uint64_t total = 0;
      for (uint32_t a = groups_[g].alt_begin; a < groups_[g].alt_end; ++a)
        total = add_costs(total, cost(alts_[a]));
      if (total < best.cost)
        best = {true, true, g, total};
    }
    choices_[node_id] = best;
    return best.cost;
  }

  /// Registers program `program` under the keys of its anchor.
  void register_anchor(uint32_t node_id, uint32_t program) {
    const anchor_choice choice = choices_[node_id];
    if (choice.group) {
      const mgroup g = groups_[choice.index];
      for (uint32_t a = g.alt_begin; a < g.alt_end; ++a)
        register_anchor(alts_[a], program);
      return;
    }
    const mrule r = rules_[choice.index];
    if (r.child != none) {
      register_anchor(r.child, program);
      return;
    }
    for (uint32_t c = r.cond_begin; c < r.cond_end; ++c) {
      const auto& k = keys_.at(c);
      auto& entry = keyed_[k.id()];
      if (entry.ids.empty())
        entry.key = k;
      entry.ids.push_back(program);
    }
  }

  posting posting_of(uint32_t program) const {
    return {program_code_[program], program_required_[program]};
  }

  /// Appends the sorted, distinct `ids` to the postings; returns their range.
  std::pair<uint32_t, uint32_t> add_postings(std::vector<uint32_t> ids) {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    auto begin = static_cast<uint32_t>(m_.postings.size());
    for (uint32_t id : ids)
      m_.postings.push_back(posting_of(id));
    return {begin, static_cast<uint32_t>(m_.postings.size())};
  }

  void build_indexes() {
    std::size_t table_keys = 0;
    for (const auto& [id, entry] : keyed_)
      if (in_table(entry.key.tag))
        ++table_keys;
    m_.table.reserve(table_keys);
    std::map<std::pair<uint32_t, int>, trie_keys> tries;
    std::map<uint32_t, std::vector<std::pair<numeric_range, uint32_t>>> ranges;
    std::map<uint32_t, std::vector<uint32_t>> presence;
    std::map<uint32_t, std::vector<cidr_len>> cidrs;
    for (auto& [id, entry] : keyed_) {
      const auto& k = entry.key;
      auto& px = m_.indexes[k.path];
      if (in_table(k.tag)) {
        auto [begin, end] = add_postings(std::move(entry.ids));
        m_.table.insert(k.path, k.tag, k.bytes, begin, end);
        if (k.tag == tag_lower)
          px.folded = true;
        else if (k.tag == tag_cidr)
          cidrs[k.path].push_back(
              {k.block.ipv6, static_cast<uint8_t>(k.block.prefix_bits)});
        else
          px.exact = true;
        continue;
      }
      auto trie = [&](trie_kind kind, bool reverse) {
        std::string key =
            reverse ? std::string{k.bytes.rbegin(), k.bytes.rend()} : k.bytes;
        tries[{k.path, kind}][key] = add_postings(std::move(entry.ids));
      };
      switch (k.tag) {
      case tag_prefix: trie(trie_prefix, false); break;
      case tag_suffix: trie(trie_suffix, true); break;
      case tag_prefix_ic: trie(trie_prefix_ic, false); break;
      case tag_suffix_ic: trie(trie_suffix_ic, true); break;
      case tag_range:
        for (auto pid : entry.ids)
          ranges[k.path].emplace_back(k.range, pid);
        break;
      case tag_presence: {
        auto& ids = presence[k.path];
        ids.insert(ids.end(), entry.ids.begin(), entry.ids.end());
        break;
      }
      default: break;
      }
    }
    for (auto& [key, strings] : tries)
      m_.indexes[key.first].trie[key.second] = build_trie(strings);
    for (auto& [path, list] : ranges) {
      m_.indexes[path].numeric = static_cast<uint32_t>(m_.numerics.size());
      m_.numerics.push_back(build_numeric(list));
    }
    for (auto& [path, ids] : presence) {
      auto& px = m_.indexes[path];
      std::tie(px.presence_begin, px.presence_end) = add_postings(ids);
    }
    for (auto& [path, lens] : cidrs) {
      auto less = [](cidr_len a, cidr_len b) {
        return std::pair{a.ipv6, a.bits} < std::pair{b.ipv6, b.bits};
      };
      auto same = [](cidr_len a, cidr_len b) {
        return a.ipv6 == b.ipv6 && a.bits == b.bits;
      };
      std::sort(lens.begin(), lens.end(), less);
      lens.erase(std::unique(lens.begin(), lens.end(), same), lens.end());
      auto& px = m_.indexes[path];
      px.cidr_begin = static_cast<uint32_t>(m_.cidr_lens.size());
      m_.cidr_lens.insert(m_.cidr_lens.end(), lens.begin(), lens.end());
      px.cidr_end = static_cast<uint32_t>(m_.cidr_lens.size());
    }
  }

  static bool in_table(char tag) noexcept {
    return tag == tag_string || tag == tag_number || tag == tag_true
           || tag == tag_false || tag == tag_null || tag == tag_lower
           || tag == tag_cidr;
  }

  /// Lays out a path-compressed trie over `keys` breadth first, so that each
  /// node's children are contiguous; returns the root's index.
  uint32_t build_trie(const trie_keys& keys) {
    std::vector<std::pair<std::string_view, std::pair<uint32_t, uint32_t>>>
        sorted(keys.begin(), keys.end());
    struct pending {
      std::size_t lo, hi, depth;
      uint32_t node;
    };
    auto common = [&](std::size_t i, std::size_t j) {
      std::string_view a = sorted[i].first;
      std::string_view b = sorted[j].first;
      std::size_t n = 0;
      while (n < a.size() && n < b.size() && a[n] == b[n])
        ++n;
      return n;
    };
    auto root = static_cast<uint32_t>(m_.trie_nodes.size());
    m_.trie_nodes.emplace_back();
    std::vector<pending> queue{{0, sorted.size(), 0, root}};
    for (std::size_t q = 0; q < queue.size(); ++q) {
      auto [lo, hi, depth, node] = queue[q];
      if (lo < hi && sorted[lo].first.size() == depth) {
        m_.trie_nodes[node].post_begin = sorted[lo].second.first;
        m_.trie_nodes[node].post_end = sorted[lo].second.second;
        ++lo;
      }
      auto child_begin = static_cast<uint32_t>(m_.trie_bytes.size());
      uint32_t count = 0;
      for (std::size_t i = lo; i < hi;) {
        char byte = sorted[i].first[depth];
        std::size_t j = i + 1;
        while (j < hi && sorted[j].first[depth] == byte)
          ++j;
        // Sorted keys share what the first and last of the run share.
        std::size_t child_depth = common(i, j - 1);
        auto child = static_cast<uint32_t>(m_.trie_nodes.size());
        if (count == 0)
          m_.trie_nodes[node].first_child = child;
        trie_node tn;
        tn.label_size = static_cast<uint32_t>(child_depth - depth);
        auto label = sorted[i].first.substr(depth, tn.label_size);
        if (label.size() <= sizeof(tn.head)) {
          std::copy(label.begin(), label.end(), tn.head);
        } else {
          tn.label_begin = static_cast<uint32_t>(m_.trie_labels.size());
          m_.trie_labels.append(label);
        }
        m_.trie_nodes.push_back(tn);
        m_.trie_bytes.push_back(static_cast<uint8_t>(byte));
        queue.push_back({i, j, child_depth, child});
        ++count;
        i = j;
      }
      m_.trie_nodes[node].child_begin = child_begin;
      m_.trie_nodes[node].child_count = count;
    }
    return root;
  }

  numeric_index
  build_numeric(std::vector<std::pair<numeric_range, uint32_t>>& list) {
    constexpr double inf = std::numeric_limits<double>::infinity();
    auto low = [](const numeric_range& r) {
      return r.has_lower ? r.lower : -inf;
    };
    auto high = [](const numeric_range& r) {
      return r.has_upper ? r.upper : inf;
    };
    std::sort(list.begin(), list.end(), [&](const auto& a, const auto& b) {
      return low(a.first) < low(b.first);
    });
    numeric_index ix;
    ix.leaves = 1;
    while (ix.leaves < list.size())
      ix.leaves *= 2;
    ix.tree.assign(2 * ix.leaves, -inf);
    for (std::size_t i = 0; i < list.size(); ++i) {
      ix.ranges.push_back(list[i].first);
      ix.lower.push_back(low(list[i].first));
      ix.postings.push_back(posting_of(list[i].second));
      ix.tree[ix.leaves + i] = high(list[i].first);
    }
    for (std::size_t v = ix.leaves - 1; v >= 1; --v)
      ix.tree[v] = std::max(ix.tree[2 * v], ix.tree[2 * v + 1]);
    return ix;
  }

  machine::impl& m_;
  // The struct form of all patterns, dropped after build.
  std::vector<mnode> nodes_;
  std::vector<mrule> rules_;
  std::vector<mgroup> groups_;
  std::vector<uint32_t> alts_;
  std::vector<uint32_t> refs_;
  std::vector<mcond> conds_;
  std::string chars_;
  std::vector<double> numbers_;
  std::vector<numeric_range> ranges_;
  std::vector<cidr_block> blocks_;
  std::vector<glob_token> globs_;
  std::vector<uint32_t> program_code_;          // by program: code offset
  std::vector<required_bits> program_required_; // by program
  std::unordered_map<std::string, uint32_t> path_ids_;
  std::unordered_map<std::string, uint32_t> popularity_;
  std::unordered_map<uint32_t, anchor_key> keys_; // by leaf condition slot
  std::vector<anchor_choice> choices_;            // by node id
  std::map<std::string, keyed_ids> keyed_;
};

// --- matching ----------------------------------------------------------------

namespace dom = simdjson::dom;

/// A field as the matcher sees it: a leaf path the machine knows, its value,
/// and its enclosing array positions positions[pos_begin, pos_begin + depth).
/// `text` views the caller's field, the event, or the parsed document.
struct ifield {
  uint32_t path = none;
  uint32_t seq = 0; // position when gathered, to keep the order in a path
  value_kind kind = value_kind::null;
  uint32_t pos_begin = 0;
  uint32_t depth = 0;
  double number = 0;
  std::string_view text;
};

/// Fields of one path: in[begin, end), at most `depth` arrays deep.
struct path_fields {
  uint32_t begin = 0;
  uint32_t end = 0;
  uint32_t depth = 0;
};

/// What the event walker knows of one array: the length of the path where it
/// sits and its number of elements.
struct array_info {
  std::size_t level_size = 0;
  std::size_t size = 0;
};

/// Per-thread scratch space, reused across calls and machines, so that match()
/// allocates nothing once it has grown. Entries of `path_epoch` are current
/// only when equal to `epoch`.
struct scratch {
  uint32_t epoch = 0;
  uint64_t signature[4] = {0, 0, 0, 0}; // bits of the event's exact values
  std::vector<uint32_t> path_epoch;     // by path: fields present in this call
  std::vector<path_fields> paths;       // by path
  std::vector<ifield> in;               // grouped by path
  std::vector<array_position> positions;
  std::vector<array_position> stack; // the walker's enclosing arrays
  std::vector<array_info> arrays;    // by the walker's array id
  std::vector<posting> candidates;
  /// Queued exact lookups: the key's hash and its field, then the posting
  /// range found.
  struct lookup {
    uint64_t hash;
    uint32_t field;
    uint32_t post_begin;
    uint32_t post_end;
  };
  std::vector<lookup> lookups;
  std::vector<uint32_t> matched;
  std::vector<array_position> context;
  std::vector<uint32_t> indices;
  std::string folded;
  std::string reversed;
  std::string path;
  std::string padded;
  std::vector<std::unique_ptr<std::string>> owned; // extension strings
  std::size_t owned_used = 0;
  dom::parser data_parser;
  dom::parser extension_parser;

  void begin(std::size_t path_count) {
    if (path_epoch.size() < path_count) {
      path_epoch.resize(path_count, 0);
      paths.resize(path_count);
    }
    if (++epoch == 0) {
      std::fill(path_epoch.begin(), path_epoch.end(), 0);
      epoch = 1;
    }
    std::fill(std::begin(signature), std::end(signature), 0);
    in.clear();
    positions.clear();
    stack.clear();
    arrays.clear();
    candidates.clear();
    lookups.clear();
    matched.clear();
    context.clear();
    indices.clear();
    owned_used = 0;
  }
};

/// One match() call: gathers the fields the machine knows (from flattened
/// fields or by walking the event), finds candidates through the indexes,
/// then evaluates each candidate's pattern with the reference matcher's rules.
class matcher {
public:
  matcher(const machine::impl& m, scratch& s) : m_(m), s_(s) {}

  void load(const flat_event& fields) {
    raw_ = &fields;
    std::string_view last;
    uint32_t leaf = none;
    for (const field f : fields) {
      if (last.data() == nullptr || f.path != last) {
        const auto* entry = m_.prefixes.find(f.path);
        leaf = entry ? entry->leaf : none;
        last = f.path;
      }
      if (leaf == none)
        continue;
      ifield x;
      x.path = leaf;
      x.kind = f.val.kind;
      x.number = f.val.number;
      x.text = f.val.text;
      x.pos_begin = static_cast<uint32_t>(s_.positions.size());
      x.depth = static_cast<uint32_t>(f.arrays.size());
      s_.positions.insert(s_.positions.end(), f.arrays.begin(), f.arrays.end());
      x.seq = static_cast<uint32_t>(s_.in.size());
      s_.in.push_back(x);
    }
    group();
  }

  void load(const event& ev) {
    const std::string* attributes[8] = {&ev.id,
                                        &ev.source,
                                        &ev.type,
                                        &ev.specversion,
                                        &ev.subject,
                                        &ev.time,
                                        &ev.datacontenttype,
                                        &ev.dataschema};
    for (std::size_t a = 0; a < 8; ++a)
      if (m_.attribute_leaf[a] != none && !attributes[a]->empty())
        add_string(m_.attribute_leaf[a], *attributes[a]);
    for (const auto& ext : ev.extensions) {
      const auto* entry = m_.prefixes.find(ext.name);
      if (!entry)
        continue;
      dom::element doc;
      if (!parse(s_.extension_parser, ext.value_json, doc))
        continue;
      s_.path = ext.name;
      walk(doc, *entry, true);
    }
    if (!ev.data.empty()) {
      if (ev.data_is_base64) {
        if (m_.base64_leaf != none)
          add_string(m_.base64_leaf, ev.data);
      } else if (m_.data_entry) {
        dom::element doc;
        if (parse(s_.data_parser, ev.data, doc)) {
          s_.path = "data";
          walk(doc, *m_.data_entry, false);
        }
      }
    }
    exact_arrays_ = true;
    group();
  }

  /// Probes the indexes with every gathered field. Exact lookups go in three
  /// rounds (hash and prefetch the slots, find them and prefetch the posting
  /// lists, copy the postings) so that their cache misses overlap.
  void find_candidates() {
    for (std::size_t i = 0; i < s_.in.size();) {
      uint32_t path = s_.in[i].path;
      const path_index& px = m_.indexes[path];
      add_range(px.presence_begin, px.presence_end);
      for (; i < s_.in.size() && s_.in[i].path == path; ++i) {
        if (px.exact || px.signature)
          hash_exact(static_cast<uint32_t>(i), px);
        probe(path, px, s_.in[i]);
      }
    }
    for (auto& l : s_.lookups) {
      exact_key key{s_.in[l.field]};
      const auto* slot = m_.table.find(l.hash, s_.in[l.field].path, key.tag,
                                       key.bytes, key.size);
      l.post_begin = slot ? slot->post_begin : 0;
      l.post_end = slot ? slot->post_end : 0;
      if (slot)
        __builtin_prefetch(m_.postings.data() + slot->post_begin);
    }
    for (const auto& l : s_.lookups)
      add_range(l.post_begin, l.post_end);
    s_.candidates.insert(s_.candidates.end(), m_.always.begin(),
                         m_.always.end());
  }

  /// Drops candidates missing a required signature bit and duplicates, then
  /// runs each remaining program; collects the ids of those that hold.
  void verify() {
    auto& c = s_.candidates;
    c.erase(std::remove_if(
                c.begin(), c.end(),
                [&](const posting& p) { return !has_required(p.required); }),
            c.end());
    auto by_program = [](const posting& a, const posting& b) {
      return a.code < b.code;
    };
    auto same = [](const posting& a, const posting& b) {
      return a.code == b.code;
    };
    std::sort(c.begin(), c.end(), by_program);
    c.erase(std::unique(c.begin(), c.end(), same), c.end());
    // A program of a few rules spans a few cache lines; fetch them at once.
    for (const auto& candidate : c)
      for (std::size_t at = candidate.code;
           at < m_.code.size() && at < candidate.code + 32; at += 16)
        __builtin_prefetch(m_.code.data() + at);
    for (const auto& candidate : c) {
      const uint32_t* program = m_.code.data() + candidate.code;
      const uint32_t* root = program + 1 + program[0];
      if (eval_node(root, array_free(root)))
        s_.matched.insert(s_.matched.end(), program + 1,
                          program + 1 + program[0]);
    }
    std::sort(s_.matched.begin(), s_.matched.end());
  }

private:
  // --- gathering fields ------------------------------------------------------

  /// Parses `json` with `parser` from the padded scratch copy (simdjson
  /// reads past the end; the DOM keeps no pointer into the input).
  bool parse(dom::parser& parser, const std::string& json, dom::element& doc) {
    s_.padded.assign(json);
    s_.padded.resize(json.size() + simdjson::SIMDJSON_PADDING);
    return parser.parse(s_.padded.data(), json.size(), false).get(doc)
           == simdjson::SUCCESS;
  }

  void add_string(uint32_t leaf, std::string_view text) {
    ifield x;
    x.path = leaf;
    x.kind = value_kind::string;
    x.text = text;
    x.pos_begin = static_cast<uint32_t>(s_.positions.size());
    x.seq = static_cast<uint32_t>(s_.in.size());
    s_.in.push_back(x);
  }

  /// Visits `e`, found at s_.path (whose table entry is `at`), like flatten()
  /// does, but only below paths the machine knows. Strings of extensions are
  /// copied, since the next extension reuses their parser.
  void walk(dom::element e, const path_table::slot& at, bool copy) {
    switch (e.type()) {
    case dom::element_type::OBJECT: {
      if (!at.interior)
        return;
      std::size_t size = s_.path.size();
      for (auto [key, child] : dom::object{e.get_object().value_unsafe()}) {
        s_.path.resize(size);
        s_.path += '.';
        s_.path += key;
        if (const auto* entry = m_.prefixes.find(s_.path))
          walk(child, *entry, copy);
      }
      s_.path.resize(size);
      return;
    }
    case dom::element_type::ARRAY: {
      auto array = dom::array{e.get_array().value_unsafe()};
      auto id = static_cast<uint32_t>(s_.arrays.size());
      s_.arrays.push_back({s_.path.size(), array.size()});
      uint32_t index = 0;
      for (auto child : array) {
        s_.stack.push_back({id, index++});
        walk(child, at, copy);
        s_.stack.pop_back();
      }
      return;
    }
    default: break;
    }
    if (at.leaf == none)
      return;
    ifield x;
    x.path = at.leaf;
    switch (e.type()) {
    case dom::element_type::STRING: {
      x.kind = value_kind::string;
      x.text = e.get_string().value_unsafe();
      if (copy) {
        if (s_.owned_used == s_.owned.size())
          s_.owned.push_back(std::make_unique<std::string>());
        auto& owned = *s_.owned[s_.owned_used++];
        owned.assign(x.text);
        x.text = owned;
      }
      break;
    }
    case dom::element_type::BOOL:
      x.kind = e.get_bool().value_unsafe() ? value_kind::true_value
                                           : value_kind::false_value;
      break;
    case dom::element_type::NULL_VALUE: x.kind = value_kind::null; break;
    default:
      x.kind = value_kind::number;
      x.number = e.get_double().value_unsafe();
      break;
    }
    x.pos_begin = static_cast<uint32_t>(s_.positions.size());
    x.depth = static_cast<uint32_t>(s_.stack.size());
    s_.positions.insert(s_.positions.end(), s_.stack.begin(), s_.stack.end());
    x.seq = static_cast<uint32_t>(s_.in.size());
    s_.in.push_back(x);
  }

  /// Orders the gathered fields by path (keeping the order within a path)
  /// and records each path's range.
  void group() {
    // std::sort on (path, seq) is stable and, unlike std::stable_sort,
    // allocates nothing.
    auto by_path = [](const ifield& a, const ifield& b) {
      return a.path != b.path ? a.path < b.path : a.seq < b.seq;
    };
    if (!std::is_sorted(s_.in.begin(), s_.in.end(), by_path))
      std::sort(s_.in.begin(), s_.in.end(), by_path);
    for (std::size_t i = 0; i < s_.in.size();) {
      uint32_t path = s_.in[i].path;
      path_fields pf;
      pf.begin = static_cast<uint32_t>(i);
      for (; i < s_.in.size() && s_.in[i].path == path; ++i)
        pf.depth = std::max(pf.depth, s_.in[i].depth);
      pf.end = static_cast<uint32_t>(i);
      s_.path_epoch[path] = s_.epoch;
      s_.paths[path] = pf;
    }
  }

  // --- candidates ------------------------------------------------------------

  void add_range(uint32_t begin, uint32_t end) {
    s_.candidates.insert(s_.candidates.end(), m_.postings.begin() + begin,
                         m_.postings.begin() + end);
  }

  void find_key(uint32_t path, char tag, const char* key, std::size_t size) {
    uint64_t h = key_table::hash(path, tag, key, size);
    if (const auto* slot = m_.table.find(h, path, tag, key, size))
      add_range(slot->post_begin, slot->post_end);
  }

  /// Looks up the exact value of `v` and records it in the event signature.
  /// The exact-value key of a field.
  struct exact_key {
    explicit exact_key(const ifield& v) : number(canonical(v.number)) {
      switch (v.kind) {
      case value_kind::string:
        tag = tag_string;
        bytes = v.text.data();
        size = v.text.size();
        break;
      case value_kind::number:
        tag = tag_number;
        bytes = reinterpret_cast<const char*>(&number);
        size = sizeof(number);
        break;
      case value_kind::true_value: tag = tag_true; break;
      case value_kind::false_value: tag = tag_false; break;
      case value_kind::null: tag = tag_null; break;
      }
    }
    exact_key(const exact_key&) = delete;
    exact_key& operator=(const exact_key&) = delete;

    double number;
    char tag = tag_null;
    const char* bytes = "";
    std::size_t size = 0;
  };

  /// Hashes the exact value of field `i`, records it in the event signature
  /// and queues its lookup.
  void hash_exact(uint32_t i, const path_index& px) {
    const ifield& v = s_.in[i];
    exact_key key{v};
    uint64_t h = key_table::hash(v.path, key.tag, key.bytes, key.size);
    if (px.signature) {
      auto bit = static_cast<uint8_t>(h >> 56);
      s_.signature[bit >> 6] |= uint64_t{1} << (bit & 63);
    }
    if (px.exact) {
      m_.table.prefetch(h);
      s_.lookups.push_back({h, i, 0, 0});
    }
  }

  bool has_required(const required_bits& r) const noexcept {
    for (uint8_t k = 0; k < r.count; ++k)
      if (!(s_.signature[r.bits[k] >> 6] >> (r.bits[k] & 63) & 1))
        return false;
    return true;
  }

  void probe(uint32_t path, const path_index& px, const ifield& v) {
    if (v.kind == value_kind::number && px.numeric != none)
      stab(m_.numerics[px.numeric], v.number);
    if (v.kind != value_kind::string)
      return;
    std::string_view t = v.text;
    walk_tries(px, trie_prefix, trie_suffix, t);
    if (px.folded || px.trie[trie_prefix_ic] != none
        || px.trie[trie_suffix_ic] != none) {
      s_.folded.assign(t);
      for (auto& c : s_.folded)
        c = lower(c);
      std::string_view f = s_.folded;
      if (px.folded)
        find_key(path, tag_lower, f.data(), f.size());
      walk_tries(px, trie_prefix_ic, trie_suffix_ic, f);
    }
    if (px.cidr_begin != px.cidr_end) {
      cidr_block ip;
      if (!parse_ip(t, ip))
        return;
      for (uint32_t k = px.cidr_begin; k < px.cidr_end; ++k) {
        const auto& len = m_.cidr_lens[k];
        if (len.ipv6 != ip.ipv6)
          continue;
        char key[17];
        find_key(path, tag_cidr, key, write_masked(ip, len.bits, key));
      }
    }
  }

  /// Adds the postings of every trie key that is a prefix of `s` (suffix
  /// tries hold reversed keys and get the reversed value).
  void walk_trie(uint32_t root, std::string_view s) {
    uint32_t node = root;
    std::size_t at = 0;
    for (;;) {
      const auto& tn = m_.trie_nodes[node];
      add_range(tn.post_begin, tn.post_end);
      if (at == s.size() || tn.child_count == 0)
        return;
      // Fetch the children while searching their first bytes, so that a
      // step costs one round of cache misses, not two.
      const trie_node* children = m_.trie_nodes.data() + tn.first_child;
      for (std::size_t k = 0; k < tn.child_count && k < 8; k += 2)
        __builtin_prefetch(children + k);
      auto byte = static_cast<uint8_t>(s[at]);
      const uint8_t* bytes = m_.trie_bytes.data() + tn.child_begin;
      const uint8_t* end = bytes + tn.child_count;
      const uint8_t* found = std::lower_bound(bytes, end, byte);
      if (found == end || *found != byte)
        return;
      node = tn.first_child + static_cast<uint32_t>(found - bytes);
      const auto& child = m_.trie_nodes[node];
      if (s.size() - at < child.label_size
          || std::memcmp(s.data() + at, child.label(m_.trie_labels),
                         child.label_size)
                 != 0)
        return;
      at += child.label_size;
    }
  }

  void walk_tries(const path_index& px, trie_kind forward, trie_kind backward,
                  std::string_view s) {
    if (px.trie[forward] != none)
      walk_trie(px.trie[forward], s);
    if (px.trie[backward] != none) {
      s_.reversed.assign(s.rbegin(), s.rend());
      walk_trie(px.trie[backward], s_.reversed);
    }
  }

  /// Adds the patterns of every range holding `x`: among the ranges whose
  /// lower bound is at most x, those whose upper bound is at least x.
  void stab(const numeric_index& ix, double x) {
    auto n = static_cast<std::size_t>(
        std::upper_bound(ix.lower.begin(), ix.lower.end(), x)
        - ix.lower.begin());
    if (n > 0)
      stab(ix, x, n, 1, 0, ix.leaves);
  }

  void stab(const numeric_index& ix, double x, std::size_t n, std::size_t v,
            std::size_t lo, std::size_t hi) {
    if (lo >= n || ix.tree[v] < x)
      return;
    if (hi - lo == 1) {
      if (in_range(ix.ranges[lo], x))
        s_.candidates.push_back(ix.postings[lo]);
      return;
    }
    std::size_t mid = lo + (hi - lo) / 2;
    stab(ix, x, n, 2 * v, lo, mid);
    stab(ix, x, n, 2 * v + 1, mid, hi);
  }

  // --- evaluation: the reference matcher's rules over the fields -------------

  path_fields fields_at(uint32_t path) const noexcept {
    return s_.path_epoch[path] == s_.epoch ? s_.paths[path] : path_fields{};
  }

  static const uint32_t* refs_of(const uint32_t* node) noexcept {
    return node + node_header;
  }

  /// Returns true if no field below `node` lies inside an array deeper than
  /// the elements already chosen.
  bool array_free(const uint32_t* node) const noexcept {
    std::size_t depth = s_.context.size();
    const uint32_t* refs = refs_of(node);
    for (uint32_t r = 0; r < node[node_refs]; ++r)
      if (fields_at(refs[r]).depth > depth)
        return false;
    return true;
  }

  /// Returns true if `f` lies inside the array elements chosen so far.
  bool in_context(const ifield& f) const noexcept {
    const auto& ctx = s_.context;
    if (f.depth < ctx.size())
      return false;
    const array_position* pos = s_.positions.data() + f.pos_begin;
    for (std::size_t k = 0; k < ctx.size(); ++k)
      if (!(pos[k] == ctx[k]))
        return false;
    return true;
  }

  /// Evaluates a pattern object. `flat`: no array element is chosen and no
  /// field below lies in an array, so no context needs checking.
  bool eval_node(const uint32_t* node, bool flat) {
    const uint32_t* p = refs_of(node) + node[node_refs];
    for (uint32_t r = 0; r < node[node_rules]; ++r, p += p[1]) {
      bool holds = p[0] == rule_nested
                       ? (flat ? eval_node(p + 2, true) : eval_nested(p + 2))
                       : eval_leaf(p, flat);
      if (!holds)
        return false;
    }
    for (uint32_t g = 0; g < node[node_groups]; ++g, p += p[1]) {
      const uint32_t* alt = p + 2;
      bool any = false;
      for (uint32_t a = 0; a < p[0] && !any; ++a, alt += alt[node_size])
        any = eval_node(alt, flat);
      if (!any)
        return false;
    }
    return true;
  }

  /// A leaf holds if one alternative holds for one of its values in context,
  /// or exists matches whether it has any value there.
  bool eval_leaf(const uint32_t* rule, bool flat) {
    auto pf = fields_at(rule[2]);
    const uint32_t* conds = rule + 4;
    uint32_t count = rule[3];
    bool present = false;
    for (uint32_t i = pf.begin; i < pf.end; ++i) {
      const ifield& f = s_.in[i];
      if (!flat && !in_context(f))
        continue;
      present = true;
      const uint32_t* c = conds;
      for (uint32_t k = 0; k < count; ++k, c += c[1])
        if (test(c, f))
          return true;
    }
    const uint32_t* c = conds;
    for (uint32_t k = 0; k < count; ++k, c += c[1]) {
      auto kind = static_cast<test_kind>(c[0] & 0xFF);
      if ((kind == test_kind::exists_true && present)
          || (kind == test_kind::exists_false && !present))
        return true;
    }
    return false;
  }

  /// A nested object over an array holds if it holds in one element (arrays
  /// of arrays are walked down); an element without any field the node looks
  /// at behaves like an absent object.
  bool eval_nested(const uint32_t* node) {
    if (array_free(node))
      return eval_node(node, s_.context.empty());
    const uint32_t* refs = refs_of(node);
    uint32_t ref_count = node[node_refs];
    std::size_t depth = s_.context.size();
    uint32_t array = none;
    for (uint32_t r = 0; r < ref_count && array == none; ++r) {
      auto pf = fields_at(refs[r]);
      for (uint32_t i = pf.begin; i < pf.end; ++i) {
        const ifield& f = s_.in[i];
        if (in_context(f) && f.depth > depth) {
          array = s_.positions[f.pos_begin + depth].array_id;
          break;
        }
      }
    }
    std::size_t size = 0;
    if (array == none || !array_here(node[node_level], array, depth, size))
      return eval_node(node, false);
    std::size_t base = s_.indices.size();
    for (uint32_t r = 0; r < ref_count; ++r) {
      auto pf = fields_at(refs[r]);
      for (uint32_t i = pf.begin; i < pf.end; ++i) {
        const ifield& f = s_.in[i];
        if (in_context(f) && f.depth > depth
            && s_.positions[f.pos_begin + depth].array_id == array)
          s_.indices.push_back(s_.positions[f.pos_begin + depth].index);
      }
    }
    auto first = s_.indices.begin() + static_cast<std::ptrdiff_t>(base);
    std::sort(first, s_.indices.end());
    s_.indices.erase(std::unique(first, s_.indices.end()), s_.indices.end());
    std::size_t distinct = s_.indices.size() - base;
    bool result = false;
    for (std::size_t k = 0; k < distinct && !result; ++k) {
      s_.context.push_back({array, s_.indices[base + k]});
      result = eval_nested(node);
      s_.context.pop_back();
    }
    s_.indices.resize(base);
    return result || ((node[node_flags] & 1) != 0 && distinct < size);
  }

  /// Returns true if `array`, found at position `depth` of fields below a
  /// node whose path is `level_size` long, sits at the node's level, and sets
  /// `size` to its number of elements. The event walker knows both.
  /// Flattened fields only say which fields share the array: it provably
  /// sits at the node's level if one of its fields ends there or two continue
  /// with different names; otherwise all continue through one name, and the
  /// machine reads the array as sitting deeper.
  bool array_here(std::size_t level_size, uint32_t array, std::size_t depth,
                  std::size_t& size) const noexcept {
    if (exact_arrays_) {
      size = s_.arrays[array].size;
      return s_.arrays[array].level_size == level_size;
    }
    bool here = false;
    bool first = true;
    std::string_view next;
    for (const field f : *raw_) {
      if (f.arrays.size() <= depth || f.arrays[depth].array_id != array)
        continue;
      size =
          std::max<std::size_t>(size, f.arrays[depth].index + std::size_t{1});
      if (f.path.size() <= level_size) {
        here = true;
        continue;
      }
      std::string_view rest{f.path};
      rest.remove_prefix(level_size + 1);
      std::string_view name = rest.substr(0, rest.find('.'));
      if (!first && name != next)
        here = true;
      first = false;
      next = name;
    }
    return here;
  }

  static std::string_view text_of(const uint32_t* c) noexcept {
    return {reinterpret_cast<const char*>(c + 3), c[2]};
  }

  static double double_at(const uint32_t* at) noexcept {
    double x;
    std::memcpy(&x, at, sizeof(x));
    return x;
  }

  /// Returns true if condition `c` (program layout) holds for `v`.
  bool test(const uint32_t* c, const ifield& v) const noexcept {
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
             && equal_folded(s.data() + s.size() - t.size(), t.data(),
                             t.size());
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

  const machine::impl& m_;
  scratch& s_;
  const flat_event* raw_ = nullptr;
  bool exact_arrays_ = false;
};

scratch& thread_scratch() {
  thread_local scratch s;
  return s;
}

} // namespace

machine::machine(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

machine::~machine() = default;

std::shared_ptr<const machine>
machine::build(const std::vector<pattern>& patterns) {
  auto state = std::make_unique<impl>();
  builder{*state}.build(patterns);
  return std::make_shared<const machine>(std::move(state));
}

void machine::match(const flat_event& fields,
                    std::vector<uint32_t>& out) const {
  scratch& s = thread_scratch();
  s.begin(impl_->paths.size());
  matcher m{*impl_, s};
  m.load(fields);
  m.find_candidates();
  m.verify();
  out.insert(out.end(), s.matched.begin(), s.matched.end());
}

void machine::match(const event& ev, std::vector<uint32_t>& out) const {
  scratch& s = thread_scratch();
  s.begin(impl_->paths.size());
  matcher m{*impl_, s};
  m.load(ev);
  m.find_candidates();
  m.verify();
  out.insert(out.end(), s.matched.begin(), s.matched.end());
}

std::size_t machine::size() const noexcept {
  return impl_->patterns;
}

std::size_t machine::unanchored() const noexcept {
  return impl_->unanchored;
}

std::size_t machine::programs() const noexcept {
  return impl_->programs;
}

std::size_t machine::memory_bytes() const noexcept {
  const impl& m = *impl_;
  auto bytes = [](const auto& v) {
    return v.capacity()
           * sizeof(typename std::decay_t<decltype(v)>::value_type);
  };
  std::size_t total =
      sizeof(impl) + bytes(m.paths) + bytes(m.indexes) + bytes(m.code)
      + bytes(m.always) + bytes(m.postings) + m.table.memory_bytes()
      + bytes(m.trie_nodes) + bytes(m.trie_bytes) + m.trie_labels.capacity()
      + bytes(m.numerics) + bytes(m.cidr_lens) + m.prefixes.memory_bytes();
  for (const auto& p : m.paths)
    if (p.capacity() > 15)
      total += p.capacity() + 1;
  for (const auto& ix : m.numerics)
    total += bytes(ix.ranges) + bytes(ix.lower) + bytes(ix.postings)
             + bytes(ix.tree);
  return total;
}

} // namespace rouse::pattern
