// The exact source/type matcher: a linear scan over small sorted lists. Good
// enough for tens of triggers; the pattern machine of issue 3 replaces it.
#include "runtime/match/matcher.hpp"

#include <algorithm>

namespace rouse::match {

namespace {

class exact_matcher final : public matcher {
public:
  explicit exact_matcher(std::vector<exact_rule> rules)
      : rules_(std::move(rules)) {
    for (auto& r : rules_) {
      std::sort(r.sources.begin(), r.sources.end());
      std::sort(r.types.begin(), r.types.end());
    }
  }

  void match(const event& ev, std::vector<uint32_t>& out) const override {
    auto in = [](const std::vector<std::string>& list, const std::string& x) {
      return list.empty() || std::binary_search(list.begin(), list.end(), x);
    };
    for (uint32_t i = 0; i < rules_.size(); ++i)
      if (in(rules_[i].sources, ev.source) && in(rules_[i].types, ev.type))
        out.push_back(i);
  }

  std::size_t size() const noexcept override { return rules_.size(); }

private:
  std::vector<exact_rule> rules_;
};

} // namespace

std::shared_ptr<const matcher>
make_exact_matcher(std::vector<exact_rule> rules) {
  return std::make_shared<exact_matcher>(std::move(rules));
}

} // namespace rouse::match
