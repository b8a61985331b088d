// The builder that compiles patterns into a machine::impl (private: only
// runtime/pattern/*.cpp include it). Compiling, emitting and anchoring
// programs is in machine_build.cpp; laying out the indexes in
// machine_index.cpp.
#pragma once

#include "runtime/pattern/machine_impl.hpp"

#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rouse::pattern::detail {

inline constexpr uint64_t unanchorable = std::numeric_limits<uint64_t>::max();

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

/// Builds one machine: compiles the patterns into the struct form (counting
/// how many conditions compete for each index key), lays out one program per
/// distinct pattern, anchors every program at its cheapest set of keys, then
/// lays out the indexes.
class builder {
public:
  explicit builder(machine::impl& m) : m_(m) {}

  void build(const std::vector<pattern>& patterns);

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

  // --- compiling and emitting programs (machine_build.cpp) -----------------

  static void collect_paths(const node& n, const std::string& prefix,
                            std::vector<std::string>& out);

  uint32_t add_text(std::string_view s);

  /// Writes the machine form of `c` to conds[slot]; anything-but appends its
  /// excluded conditions at the end of conds.
  void compile_condition(const condition& c, uint32_t slot);

  /// Compiles `n`, whose fields live under `prefix`, and returns its node id;
  /// appends the leaf paths below it to `refs_out`. A `nested` node (the
  /// object of a nested rule, or a root) keeps them, to find arrays at its
  /// level.
  uint32_t compile_node(const node& n, const std::string& prefix,
                        std::vector<uint32_t>& refs_out, bool nested);

  static void emit_bytes(std::vector<uint32_t>& code, const void* bytes,
                         std::size_t size);
  static void emit_double(std::vector<uint32_t>& code, double x);

  /// Appends node `node_id` in program layout (see "compiled pattern form").
  void emit_node(uint32_t node_id, std::vector<uint32_t>& code) const;
  void emit_cond(uint32_t index, std::vector<uint32_t>& code) const;

  // --- anchoring programs (machine_build.cpp) ------------------------------

  /// Returns the signature bits of up to three leaves that every match of
  /// the pattern at `root` needs: leaves reached without passing a $or whose
  /// only alternative is one exact value. Marks their paths as feeding the
  /// event signature.
  required_bits required(uint32_t root);

  static bool is_exact(char tag) noexcept;
  static uint64_t add_costs(uint64_t a, uint64_t b) noexcept;

  /// Returns the number of candidates a rule's keys are expected to produce,
  /// weighted by how unselective each kind of key is.
  uint64_t rule_cost(const mrule& r);
  uint64_t cost(uint32_t node_id);

  /// Registers program `program` under the keys of its anchor.
  void register_anchor(uint32_t node_id, uint32_t program);

  // --- laying out the indexes (machine_index.cpp) --------------------------

  posting posting_of(uint32_t program) const;

  /// Appends the sorted, distinct `ids` to the postings; returns their range.
  std::pair<uint32_t, uint32_t> add_postings(std::vector<uint32_t> ids);

  void build_indexes();
  static bool in_table(char tag) noexcept;

  /// Lays out a path-compressed trie over `keys` breadth first, so that each
  /// node's children are contiguous; returns the root's index.
  uint32_t build_trie(const trie_keys& keys);
  numeric_index
  build_numeric(std::vector<std::pair<numeric_range, uint32_t>>& list);

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

} // namespace rouse::pattern::detail
