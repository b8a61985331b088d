// Waits in machines of doubling sizes plus a short list of recent ones; see
// wait_set.hpp.
#include "runtime/match/wait_set.hpp"

namespace rouse::match {

namespace {

/// Recent waits are tried one by one; at this many they become a machine.
constexpr std::size_t recent_limit = 16;

} // namespace

bool wait_set::add(const std::string& id,
                   std::shared_ptr<const pattern::pattern> p) {
  if (where_.count(id) > 0)
    return false;
  where_.emplace(id, place{npos, recent_.size()});
  auto single = make_pattern_matcher({p});
  recent_.push_back(recent_wait{id, std::move(p), std::move(single)});
  if (recent_.size() < recent_limit)
    return true;
  levels_.emplace_back();
  build(levels_.size() - 1, {}, &recent_);
  // Merge while the newest machine is more than half the size of the one
  // before it, so sizes at least double towards the front.
  while (levels_.size() >= 2
         && levels_.back().live * 2 > levels_[levels_.size() - 2].live) {
    auto last = levels_.size() - 1;
    level merged_from_back = std::move(levels_[last]);
    levels_.pop_back();
    build(last - 1, {&levels_[last - 1], &merged_from_back}, nullptr);
  }
  return true;
}

bool wait_set::remove(const std::string& id) {
  auto i = where_.find(id);
  if (i == where_.end())
    return false;
  auto at = i->second;
  where_.erase(i);
  if (at.level != npos) {
    auto& l = levels_[at.level];
    l.ids[at.index].clear();
    l.patterns[at.index].reset();
    --l.live;
    // Mostly removed rules still cost walks: rebuild from the live ones.
    if (l.live < l.ids.size() / 2)
      build(at.level, {&l}, nullptr);
    return true;
  }
  // Swap-remove from the recent list, fixing the moved wait's place.
  if (at.index + 1 != recent_.size()) {
    recent_[at.index] = std::move(recent_.back());
    where_[recent_[at.index].id].index = at.index;
  }
  recent_.pop_back();
  return true;
}

void wait_set::match(const event& ev, std::vector<std::string>& out) const {
  for (const auto& l : levels_) {
    if (!l.machine)
      continue;
    hits_.clear();
    l.machine->match(ev, hits_);
    for (auto rule : hits_)
      if (!l.ids[rule].empty())
        out.push_back(l.ids[rule]);
  }
  for (const auto& w : recent_) {
    hits_.clear();
    w.single->match(ev, hits_);
    if (!hits_.empty())
      out.push_back(w.id);
  }
}

void wait_set::build(std::size_t at, std::vector<level*> from,
                     std::vector<recent_wait>* recent) {
  level next;
  for (auto* l : from)
    for (std::size_t i = 0; i < l->ids.size(); ++i)
      if (!l->ids[i].empty()) {
        next.patterns.push_back(std::move(l->patterns[i]));
        next.ids.push_back(std::move(l->ids[i]));
      }
  if (recent != nullptr) {
    for (auto& w : *recent) {
      next.patterns.push_back(std::move(w.pattern));
      next.ids.push_back(std::move(w.id));
    }
    recent->clear();
  }
  for (std::size_t i = 0; i < next.ids.size(); ++i)
    where_[next.ids[i]] = place{at, i};
  next.live = next.ids.size();
  if (!next.patterns.empty()) {
    next.machine = make_pattern_matcher(next.patterns);
    ++builds_;
  }
  levels_[at] = std::move(next);
}

} // namespace rouse::match
