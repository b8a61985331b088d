// The pattern matcher: each event is encoded once and every pattern checked
// with the reference matcher. Correct by construction; the fast machine of
// runtime/pattern replaces the per-pattern walk behind the same interface.
#include "runtime/match/matcher.hpp"

#include "runtime/json/cloudevent.hpp"
#include "runtime/pattern/reference.hpp"

namespace rouse::match {

namespace {

class pattern_matcher final : public matcher {
public:
  explicit pattern_matcher(
      std::vector<std::shared_ptr<const pattern::pattern>> patterns)
      : patterns_(std::move(patterns)) {}

  void match(const event& ev, std::vector<uint32_t>& out) const override {
    auto text = json::encode_cloudevent(ev);
    for (uint32_t i = 0; i < patterns_.size(); ++i)
      if (pattern::reference_match(*patterns_[i], text))
        out.push_back(i);
  }

  std::size_t size() const noexcept override { return patterns_.size(); }

private:
  std::vector<std::shared_ptr<const pattern::pattern>> patterns_;
};

} // namespace

std::shared_ptr<const matcher> make_pattern_matcher(
    std::vector<std::shared_ptr<const pattern::pattern>> patterns) {
  return std::make_shared<pattern_matcher>(std::move(patterns));
}

} // namespace rouse::match
