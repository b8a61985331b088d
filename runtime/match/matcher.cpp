// The pattern matcher: walks the compiled machine over each event, reading
// only the fields some trigger names (runtime/pattern/machine.hpp), so
// routing cost does not grow with the number of triggers.
#include "runtime/match/matcher.hpp"

#include "runtime/pattern/machine.hpp"

namespace rouse::match {

namespace {

class pattern_matcher final : public matcher {
public:
  explicit pattern_matcher(
      const std::vector<std::shared_ptr<const pattern::pattern>>& patterns) {
    std::vector<pattern::pattern> copies;
    copies.reserve(patterns.size());
    for (const auto& p : patterns)
      copies.push_back(*p);
    machine_ = pattern::machine::build(copies);
  }

  void match(const event& ev, std::vector<uint32_t>& out) const override {
    machine_->match(ev, out);
  }

  std::size_t size() const noexcept override { return machine_->size(); }

private:
  std::shared_ptr<const pattern::machine> machine_;
};

} // namespace

std::shared_ptr<const matcher> make_pattern_matcher(
    std::vector<std::shared_ptr<const pattern::pattern>> patterns) {
  return std::make_shared<pattern_matcher>(patterns);
}

} // namespace rouse::match
