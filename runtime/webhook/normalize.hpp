// Provider-neutral events from forge webhooks: `git.push` and
// `ci.run.completed` built from GitHub, Forgejo, Gitea and GitLab payloads, the
// rule that names the provider-native event type, and the content-derived event
// ids that let a forge's push and a local git hook's report of it collapse into
// one event. docs/events.md is the reference for every field.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace rouse::webhook {

/// One normalized event: its CloudEvents type and its `data` as JSON text.
struct normalized_event {
  /// "git.push" or "ci.run.completed".
  std::string type;
  /// A JSON object of the shape docs/events.md gives for `type`.
  std::string data;

  friend bool operator==(const normalized_event&,
                         const normalized_event&) = default;
};

/// Returns the provider-native event type for a delivery, "<provider>.<event>".
/// The provider is ASCII-lower-cased, every run of characters other than
/// [a-z0-9] becomes one '_', and leading and trailing '_' are dropped. The
/// event loses trailing blanks and then a trailing " hook" (any case), and is
/// split at '.'; each segment is treated like the provider, and the non-empty
/// segments are joined with '.'. A part that ends up empty is "unknown".
/// Examples: ("github", "pull_request") -> "github.pull_request", ("gitlab",
/// "Merge Request Hook") -> "gitlab.merge_request", ("gitlab", "Tag Push
/// Hook") -> "gitlab.tag_push", ("stripe", "invoice.paid") ->
/// "stripe.invoice.paid".
std::string native_type(std::string_view provider,
                        std::string_view header_event_type);

/// Returns the normalized events a delivery stands for: none, or one `git.push`
/// or `ci.run.completed`. `provider` is "github", "forgejo", "gitea" or
/// "gitlab" (others yield none), `header_event_type` the event header's value
/// (X-GitHub-Event, X-Forgejo-Event, X-Gitea-Event, X-Gitlab-Event) and `body`
/// the raw JSON payload. Invalid JSON and events that are not pushes or
/// finished CI runs yield none; missing or mistyped fields become empty strings
/// or arrays. Thread-safe (one parser per thread).
std::vector<normalized_event> normalize(std::string_view provider,
                                        std::string_view header_event_type,
                                        std::string_view body);

/// Returns `prefix` + "-" + the first 32 hex characters (128 bits) of the
/// SHA-256 of `parts` joined with '\n': a deterministic event id for facts that
/// identify an event, so a report sent twice is a duplicate. The parts must not
/// contain '\n' for the join to be unambiguous (git refs, object names and
/// repository names do not).
std::string hashed_event_id(std::string_view prefix,
                            std::initializer_list<std::string_view> parts);

/// Returns the event id of a `git.push` of `ref` in `repo` from `before` to
/// `after`: hashed_event_id("push", {repo, ref, before, after}), e.g.
/// "push-3b0c...". A forge's webhook and a local post-receive hook that report
/// the same push produce the same id, so with the same `source` ("git") the
/// second is a duplicate.
std::string push_event_id(std::string_view repo, std::string_view ref,
                          std::string_view before, std::string_view after);

} // namespace rouse::webhook
