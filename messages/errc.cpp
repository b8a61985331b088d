// Implements the rouse error category on top of caf::error.
#include "messages/errc.hpp"

#include <caf/atom.hpp>
#include <caf/deep_to_string.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace rouse {

namespace {
constexpr caf::atom_value category = caf::atom("rouse");
} // namespace

const char* to_string(errc x) noexcept {
  switch (x) {
  case errc::invalid_input: return "invalid_input";
  case errc::invalid_config: return "invalid_config";
  case errc::too_large: return "too_large";
  case errc::not_found: return "not_found";
  case errc::storage_full: return "storage_full";
  case errc::storage_failure: return "storage_failure";
  case errc::schema_mismatch: return "schema_mismatch";
  case errc::overloaded: return "overloaded";
  case errc::spawn_failed: return "spawn_failed";
  case errc::unauthorized: return "unauthorized";
  case errc::shutting_down: return "shutting_down";
  case errc::unreachable: return "unreachable";
  }
  return "unknown";
}

caf::error make_error(errc x, std::string what) {
  return caf::error{static_cast<uint8_t>(x), category,
                    caf::make_message(std::move(what))};
}

caf::error make_error(errc x) {
  return caf::error{static_cast<uint8_t>(x), category};
}

bool is(const caf::error& err, errc x) noexcept {
  return err && err.category() == category
         && err.code() == static_cast<uint8_t>(x);
}

std::string describe(const caf::error& err) {
  if (!err)
    return {};
  if (err.category() == category) {
    const auto& ctx = err.context();
    if (ctx.size() == 1 && ctx.match_element<std::string>(0))
      return ctx.get_as<std::string>(0);
    return to_string(static_cast<errc>(err.code()));
  }
  return caf::to_string(err);
}

} // namespace rouse
