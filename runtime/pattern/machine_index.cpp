// Lays out the machine's indexes from the anchors the builder registered:
// the key table, path-compressed tries for prefixes and suffixes, interval
// indexes for numeric ranges, presence lists and CIDR prefix lengths.
#include "runtime/pattern/machine_builder.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <string_view>
#include <tuple>
#include <utility>

namespace rouse::pattern::detail {

posting builder::posting_of(uint32_t program) const {
  return {program_code_[program], program_required_[program]};
}

std::pair<uint32_t, uint32_t> builder::add_postings(std::vector<uint32_t> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  auto begin = static_cast<uint32_t>(m_.postings.size());
  for (uint32_t id : ids)
    m_.postings.push_back(posting_of(id));
  return {begin, static_cast<uint32_t>(m_.postings.size())};
}

void builder::build_indexes() {
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

bool builder::in_table(char tag) noexcept {
  return tag == tag_string || tag == tag_number || tag == tag_true
         || tag == tag_false || tag == tag_null || tag == tag_lower
         || tag == tag_cidr;
}

uint32_t builder::build_trie(const trie_keys& keys) {
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
builder::build_numeric(std::vector<std::pair<numeric_range, uint32_t>>& list) {
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

} // namespace rouse::pattern::detail
