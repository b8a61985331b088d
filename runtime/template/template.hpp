// Input mapping: `{{path}}` templates in a trigger's exec argv and env,
// rendered against the event that started the run. Paths name CloudEvent
// attributes (`type`, `subject`, `id`, `source`, `time`, extensions) and the
// payload under `data.` (`data.pull_request.number`, `data.commits.0.id`).
// Rendering substitutes text only: argv stays an array, no shell ever sees it.
#pragma once

#include "messages/event.hpp"

#include <caf/expected.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rouse::tmpl {

/// Looks up template paths in one event. Parses `data` at most once, on the
/// first `data.` lookup. Not thread-safe; cheap to make per run.
class event_lookup {
public:
  explicit event_lookup(const event& ev);
  ~event_lookup();
  event_lookup(const event_lookup&) = delete;
  event_lookup& operator=(const event_lookup&) = delete;

  /// Returns the text of the value at `path`: strings as they are, numbers
  /// and booleans as JSON, objects and arrays as compact JSON, null as "".
  /// Returns nothing if the event has no value there.
  std::optional<std::string> get(std::string_view path);

private:
  struct impl;
  const event& ev_;
  impl* impl_ = nullptr;
};

/// A parsed template: literal text with `{{path}}` references (spaces around
/// the path are allowed; `{{{{` is a literal `{{`).
class text_template {
public:
  /// Returns the parsed `text`, or errc::invalid_input naming the problem
  /// (an unclosed `{{`, an empty path, a character a path cannot hold).
  static caf::expected<text_template> parse(std::string_view text);

  /// Returns true if the template references at least one path.
  bool has_references() const noexcept;

  /// Returns the rendered text. A path the event lacks renders as empty and
  /// is appended to `missing`.
  std::string render(event_lookup& lookup,
                     std::vector<std::string>& missing) const;

  /// Returns the text rendered with `lookup` answering each path (nothing
  /// for a missing one, which renders empty and is appended to `missing`).
  std::string render(
      const std::function<std::optional<std::string>(std::string_view)>& lookup,
      std::vector<std::string>& missing) const;

private:
  struct piece {
    bool reference = false;
    std::string text; ///< literal text, or the path of a reference
  };
  std::vector<piece> pieces_;
};

} // namespace rouse::tmpl
