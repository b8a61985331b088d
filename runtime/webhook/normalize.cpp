// Builds git.push and ci.run.completed from forge payloads (simdjson DOM, one
// parser per thread) with the JSON writer. Each provider differs only in the
// JSON pointers it reads, listed next to the builder that uses them. Hashed
// event ids use OpenSSL's SHA-256.
#include "runtime/webhook/normalize.hpp"

#include "runtime/json/cloudevent.hpp"
#include "runtime/json/writer.hpp"
#include "runtime/webhook/crypto.hpp"

#include <openssl/evp.h>

#include <simdjson.h>

#include <array>

namespace rouse::webhook {

namespace {

namespace dom = simdjson::dom;

/// Returns `text` lower-cased with runs of non-[a-z0-9] replaced by one '_'
/// and no leading or trailing '_' (possibly empty).
std::string sanitize(std::string_view text) {
  std::string out;
  bool pending_sep = false;
  for (char c : text) {
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      if (pending_sep && !out.empty())
        out += '_';
      pending_sep = false;
      out += c;
    } else {
      pending_sep = true;
    }
  }
  return out;
}

/// Returns sanitize() of each '.'-separated segment of `text`, the non-empty
/// ones joined with '.'.
std::string sanitize_dotted(std::string_view text) {
  std::string out;
  while (true) {
    auto dot = text.find('.');
    auto segment = sanitize(text.substr(0, dot));
    if (!segment.empty()) {
      if (!out.empty())
        out += '.';
      out += segment;
    }
    if (dot == text.npos)
      return out;
    text.remove_prefix(dot + 1);
  }
}

std::string or_unknown(std::string s) {
  return s.empty() ? std::string{"unknown"} : s;
}

/// Returns the event part of native_type(): "Push Hook" -> "push".
std::string event_name(std::string_view header_event_type) {
  while (
      !header_event_type.empty()
      && (header_event_type.back() == ' ' || header_event_type.back() == '\t'))
    header_event_type.remove_suffix(1);
  constexpr std::string_view hook = " hook";
  if (header_event_type.size() > hook.size()) {
    auto tail =
        header_event_type.substr(header_event_type.size() - hook.size());
    bool is_hook = true;
    for (size_t i = 0; i < hook.size(); ++i) {
      char c = tail[i];
      if (c >= 'A' && c <= 'Z')
        c = static_cast<char>(c - 'A' + 'a');
      is_hook = is_hook && c == hook[i];
    }
    if (is_hook)
      header_event_type.remove_suffix(hook.size());
  }
  return or_unknown(sanitize_dotted(header_event_type));
}

/// Returns the string at JSON pointer `ptr` under `e`, or empty if it is
/// absent or not a string.
std::string str(dom::element e, std::string_view ptr) {
  dom::element v;
  std::string_view s;
  if (e.at_pointer(ptr).get(v) != simdjson::SUCCESS
      || v.get_string().get(s) != simdjson::SUCCESS)
    return {};
  return std::string{s};
}

/// Up to three JSON pointers tried in order; empty entries are unused.
using fallbacks = std::array<std::string_view, 3>;

/// Returns the first non-empty string among the pointers, or empty.
std::string first_str(dom::element e, const fallbacks& ptrs) {
  for (auto ptr : ptrs) {
    if (ptr.empty())
      continue;
    auto s = str(e, ptr);
    if (!s.empty())
      return s;
  }
  return {};
}

/// Returns the integer at `ptr` as decimal text, or empty.
std::string int_text(dom::element e, std::string_view ptr) {
  dom::element v;
  if (e.at_pointer(ptr).get(v) != simdjson::SUCCESS)
    return {};
  int64_t i = 0;
  if (v.get_int64().get(i) == simdjson::SUCCESS)
    return std::to_string(i);
  uint64_t u = 0;
  if (v.get_uint64().get(u) == simdjson::SUCCESS)
    return std::to_string(u);
  return {};
}

bool is_true(dom::element e, std::string_view ptr) {
  dom::element v;
  bool b = false;
  return e.at_pointer(ptr).get(v) == simdjson::SUCCESS
         && v.get_bool().get(b) == simdjson::SUCCESS && b;
}

/// Returns a branch (or tag) name as a full ref; names that already are refs
/// stay as they are, and an empty name stays empty.
std::string full_ref(const std::string& name, bool tag) {
  if (name.empty() || name.starts_with("refs/"))
    return name;
  return (tag ? "refs/tags/" : "refs/heads/") + name;
}

/// Maps a GitHub (or Gitea) check conclusion onto the normalized vocabulary.
/// neutral counts as success, as GitHub's branch protection does; stale
/// (abandoned after 14 days) as cancelled.
std::string github_conclusion(const std::string& c) {
  if (c == "success" || c == "neutral")
    return "success";
  if (c == "failure" || c == "timed_out" || c == "startup_failure"
      || c == "action_required")
    return "failure";
  if (c == "cancelled" || c == "stale")
    return "cancelled";
  return c;
}

/// Where one provider keeps the fields of a push.
struct push_fields {
  std::string_view repo;
  fallbacks pusher;
};

normalized_event make_push(dom::element root, std::string_view provider,
                           const push_fields& f) {
  json::array_writer commits;
  dom::array list;
  if (root.at_pointer("/commits").get_array().get(list) == simdjson::SUCCESS)
    for (auto c : list) {
      json::object_writer author;
      author.field("name", str(c, "/author/name"))
          .field("email", str(c, "/author/email"));
      json::object_writer commit;
      commit.field("id", str(c, "/id"))
          .field("message", str(c, "/message"))
          .raw("author", author.finish())
          .field("url", str(c, "/url"));
      commits.raw(commit.finish());
    }
  json::object_writer data;
  data.field("repo", str(root, f.repo))
      .field("ref", str(root, "/ref"))
      .field("before", str(root, "/before"))
      .field("after", str(root, "/after"))
      .raw("commits", commits.finish())
      .field("pusher", first_str(root, f.pusher))
      .field("provider", provider);
  return {"git.push", data.finish()};
}

/// Where one provider keeps the fields of a finished CI run.
struct ci_fields {
  std::string_view repo;
  std::string_view branch;
  std::string_view sha;
  fallbacks workflow;
  std::string_view conclusion;
  std::string_view url;
};

normalized_event make_ci(dom::element root, std::string_view provider,
                         const std::string& ref, const ci_fields& f,
                         const std::string& conclusion,
                         const std::string& url) {
  json::object_writer data;
  data.field("repo", str(root, f.repo))
      .field("ref", ref)
      .field("sha", str(root, f.sha))
      .field("workflow", first_str(root, f.workflow))
      .field("conclusion", conclusion)
      .field("url", url)
      .field("provider", provider);
  return {"ci.run.completed", data.finish()};
}

/// GitHub's and Gitea's workflow_run and check_suite payloads share a shape.
void github_like(dom::element root, std::string_view provider,
                 const std::string& event, std::vector<normalized_event>& out) {
  if (event == "push") {
    out.push_back(
        make_push(root, provider,
                  provider == "github"
                      ? push_fields{"/repository/full_name", {"/pusher/name"}}
                      : push_fields{"/repository/full_name",
                                    {"/pusher/login", "/pusher/username",
                                     "/pusher/name"}}));
    return;
  }
  if (str(root, "/action") != "completed")
    return;
  ci_fields f;
  if (event == "workflow_run")
    f = {"/repository/full_name",
         "/workflow_run/head_branch",
         "/workflow_run/head_sha",
         {"/workflow_run/name", "/workflow/name", "/workflow_run/path"},
         "/workflow_run/conclusion",
         "/workflow_run/html_url"};
  else if (event == "check_suite" && provider == "github")
    f = {"/repository/full_name",   "/check_suite/head_branch",
         "/check_suite/head_sha",   {"/check_suite/app/name"},
         "/check_suite/conclusion", "/check_suite/url"};
  else
    return;
  out.push_back(make_ci(root, provider, full_ref(str(root, f.branch), false), f,
                        github_conclusion(str(root, f.conclusion)),
                        str(root, f.url)));
}

void gitlab(dom::element root, const std::string& event,
            std::vector<normalized_event>& out) {
  if (event == "push" || event == "tag_push") {
    out.push_back(make_push(
        root, "gitlab",
        {"/project/path_with_namespace", {"/user_username", "/user_name"}}));
    return;
  }
  if (event != "pipeline")
    return;
  auto status = str(root, "/object_attributes/status");
  std::string conclusion;
  if (status == "success")
    conclusion = "success";
  else if (status == "failed")
    conclusion = "failure";
  else if (status == "canceled")
    conclusion = "cancelled";
  else if (status == "skipped")
    conclusion = "skipped";
  else
    return; // created, pending, running, manual ...: not finished
  ci_fields f{"/project/path_with_namespace", "/object_attributes/ref",
              "/object_attributes/sha",       {"/object_attributes/name"},
              "/object_attributes/status",    "/object_attributes/url"};
  auto url = str(root, f.url);
  if (url.empty()) {
    // Before GitLab 16 the payload has no pipeline URL; it is derivable.
    auto web = str(root, "/project/web_url");
    auto id = int_text(root, "/object_attributes/id");
    if (!web.empty() && !id.empty())
      url = web + "/-/pipelines/" + id;
  }
  auto ref =
      full_ref(str(root, f.branch), is_true(root, "/object_attributes/tag"));
  out.push_back(make_ci(root, "gitlab", ref, f, conclusion, url));
}

} // namespace

std::string native_type(std::string_view provider,
                        std::string_view header_event_type) {
  return or_unknown(sanitize(provider)) + "." + event_name(header_event_type);
}

std::vector<normalized_event> normalize(std::string_view provider,
                                        std::string_view header_event_type,
                                        std::string_view body) {
  std::vector<normalized_event> out;
  bool github_family =
      provider == "github" || provider == "forgejo" || provider == "gitea";
  if (!github_family && provider != "gitlab")
    return out;
  thread_local dom::parser parser;
  dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS
      || !root.is_object())
    return out;
  auto event = event_name(header_event_type);
  if (github_family)
    github_like(root, provider, event, out);
  else
    gitlab(root, event, out);
  return out;
}

std::string hashed_event_id(std::string_view prefix,
                            std::initializer_list<std::string_view> parts) {
  std::string text;
  bool first = true;
  for (auto part : parts) {
    if (!first)
      text += '\n';
    first = false;
    text.append(part);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  std::string id{prefix};
  id += '-';
  if (EVP_Digest(text.data(), text.size(), md, &size, EVP_sha256(), nullptr)
      != 1)
    return id + json::random_hex_id(); // only on memory exhaustion: an id
                                       // that collapses nothing
  auto hex =
      hex_encode(std::string_view{reinterpret_cast<const char*>(md), size});
  id += hex.substr(0, 32);
  return id;
}

std::string push_event_id(std::string_view repo, std::string_view ref,
                          std::string_view before, std::string_view after) {
  return hashed_event_id("push", {repo, ref, before, after});
}

} // namespace rouse::webhook
