// Compiles patterns for the machine: the struct form with each index key's
// popularity, one program per distinct pattern in program layout, and each
// program's cheapest anchor. The indexes are laid out in machine_index.cpp.
#include "runtime/pattern/machine_builder.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <utility>

namespace rouse::pattern::detail {

namespace {

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

} // namespace

void builder::build(const std::vector<pattern>& patterns) {
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
    m_.code.insert(m_.code.end(), program_ids[p].begin(), program_ids[p].end());
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

void builder::collect_paths(const node& n, const std::string& prefix,
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

uint32_t builder::add_text(std::string_view s) {
  auto at = static_cast<uint32_t>(chars_.size());
  chars_.append(s);
  return at;
}

void builder::compile_condition(const condition& c, uint32_t slot) {
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

uint32_t builder::compile_node(const node& n, const std::string& prefix,
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

void builder::emit_bytes(std::vector<uint32_t>& code, const void* bytes,
                         std::size_t size) {
  std::size_t at = code.size();
  code.resize(at + (size + 3) / 4, 0);
  if (size > 0)
    std::memcpy(code.data() + at, bytes, size);
}

void builder::emit_double(std::vector<uint32_t>& code, double x) {
  emit_bytes(code, &x, sizeof(x));
}

void builder::emit_node(uint32_t node_id, std::vector<uint32_t>& code) const {
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

void builder::emit_cond(uint32_t index, std::vector<uint32_t>& code) const {
  const mcond c = conds_[index];
  std::size_t at = code.size();
  code.insert(
      code.end(),
      {static_cast<uint32_t>(c.kind) | static_cast<uint32_t>(c.vkind) << 8, 0});
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

required_bits builder::required(uint32_t root) {
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

bool builder::is_exact(char tag) noexcept {
  return tag == tag_string || tag == tag_number || tag == tag_true
         || tag == tag_false || tag == tag_null;
}

uint64_t builder::add_costs(uint64_t a, uint64_t b) noexcept {
  if (a == unanchorable || b == unanchorable || a + b < a)
    return unanchorable;
  return a + b;
}

uint64_t builder::rule_cost(const mrule& r) {
  if (r.child != none)
    return cost(r.child);
  uint64_t total = 0;
  for (uint32_t c = r.cond_begin; c < r.cond_end; ++c) {
    auto it = keys_.find(c);
    if (it == keys_.end())
      return unanchorable;
    const auto& k = it->second;
    total = add_costs(total, k.weight() * (1 + popularity_[k.popularity_id()]));
  }
  return total;
}

uint64_t builder::cost(uint32_t node_id) {
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

void builder::register_anchor(uint32_t node_id, uint32_t program) {
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

} // namespace rouse::pattern::detail
