// Matches one event against the machine: gathers the fields it knows (from
// flattened fields or by walking the event), finds candidate programs
// through the indexes and runs each over the fields with the reference
// matcher's rules. All of it is one translation unit, so it inlines as one.
#include "runtime/pattern/machine_conditions.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string_view>

namespace rouse::pattern::detail {

namespace {

namespace dom = simdjson::dom;

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

} // namespace rouse::pattern::detail

namespace rouse::pattern {

void machine::match(const flat_event& fields,
                    std::vector<uint32_t>& out) const {
  detail::scratch& s = detail::thread_scratch();
  s.begin(impl_->paths.size());
  detail::matcher m{*impl_, s};
  m.load(fields);
  m.find_candidates();
  m.verify();
  out.insert(out.end(), s.matched.begin(), s.matched.end());
}

void machine::match(const event& ev, std::vector<uint32_t>& out) const {
  detail::scratch& s = detail::thread_scratch();
  s.begin(impl_->paths.size());
  detail::matcher m{*impl_, s};
  m.load(ev);
  m.find_candidates();
  m.verify();
  out.insert(out.end(), s.matched.begin(), s.matched.end());
}

} // namespace rouse::pattern
