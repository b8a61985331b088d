// Small helpers over the event record.
#include "messages/event.hpp"

namespace rouse {

const std::string* find_extension(const event& ev, const std::string& name) {
  for (const auto& ext : ev.extensions)
    if (ext.name == name)
      return &ext.value_json;
  return nullptr;
}

} // namespace rouse
