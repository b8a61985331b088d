// A trigger's flow-control key and priority templates, compiled once and
// rendered against each event when its run is created (router shards), so the
// governor decides from the run record alone, also after a restart.
#pragma once

#include "messages/event.hpp"
#include "messages/run.hpp"
#include "runtime/template/template.hpp"

#include <caf/expected.hpp>

#include <optional>
#include <string>

namespace rouse::config {
struct flow_policy;
} // namespace rouse::config

namespace rouse::flow {

class key_templates {
public:
  /// Compiles the keys and priority of `p` (validated by the config loader;
  /// an error here names the policy).
  static caf::expected<key_templates> compile(const config::flow_policy& p);

  /// Returns true if any policy has a key or a priority: runs need rendering.
  bool any() const noexcept;

  /// Renders every key and the priority for `ev`. A priority that does not
  /// render to an integer is 0, and `warning` says why.
  run_flow render(const event& ev, std::string& warning) const;

private:
  std::optional<tmpl::text_template> concurrency_, rate_, debounce_, batch_,
      singleton_, budget_, priority_;
};

} // namespace rouse::flow
