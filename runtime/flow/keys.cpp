// Rendering keys: one event lookup per run, shared by every template.
#include "runtime/flow/keys.hpp"

#include "messages/errc.hpp"
#include "runtime/config/config.hpp"

#include <charconv>

namespace rouse::flow {

caf::expected<key_templates>
key_templates::compile(const config::flow_policy& p) {
  key_templates k;
  auto one = [](const std::string& text, std::string_view what,
                std::optional<tmpl::text_template>& into) -> caf::error {
    if (text.empty())
      return {};
    auto t = tmpl::text_template::parse(text);
    if (!t)
      return make_error(errc::invalid_input,
                        std::string{what} + ": " + describe(t.error()));
    into = std::move(*t);
    return {};
  };
  if (auto err = one(p.concurrency_key, "concurrency.key", k.concurrency_))
    return err;
  if (p.rate.limit > 0)
    if (auto err = one(p.rate.key, "rate.key", k.rate_))
      return err;
  if (p.debounce.period.count() > 0)
    if (auto err = one(p.debounce.key, "debounce.key", k.debounce_))
      return err;
  if (p.batch.max_size > 0)
    if (auto err = one(p.batch.key, "batch.key", k.batch_))
      return err;
  if (p.singleton.enabled)
    if (auto err = one(p.singleton.key, "singleton.key", k.singleton_))
      return err;
  if (p.budget.on())
    if (auto err = one(p.budget.key, "budget.key", k.budget_))
      return err;
  if (auto err = one(p.priority.value, "priority", k.priority_))
    return err;
  return k;
}

bool key_templates::any() const noexcept {
  return concurrency_ || rate_ || debounce_ || batch_ || singleton_ || budget_
         || priority_;
}

run_flow key_templates::render(const event& ev, std::string& warning) const {
  run_flow f;
  if (!any())
    return f;
  tmpl::event_lookup lookup{ev};
  std::vector<std::string> missing;
  auto put = [&](const std::optional<tmpl::text_template>& t,
                 std::string& into) {
    if (t)
      into = t->render(lookup, missing);
  };
  put(concurrency_, f.concurrency_key);
  put(rate_, f.rate_key);
  put(debounce_, f.debounce_key);
  put(batch_, f.batch_key);
  put(singleton_, f.singleton_key);
  put(budget_, f.budget_key);
  if (priority_) {
    auto text = priority_->render(lookup, missing);
    int64_t p = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), p);
    if (ec == std::errc{} && end == text.data() + text.size() && !text.empty())
      f.priority = p;
    else
      warning = "priority \"" + text + "\" is not an integer; using 0";
  }
  return f;
}

} // namespace rouse::flow
