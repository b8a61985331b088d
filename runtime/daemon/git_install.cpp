// `rouse git install-hooks`: writes rouse's hooks into a repository's hooks
// directory, keeping a hook that was there as `<hook>.rouse-chained` to run
// first, and removes them again (--uninstall). docs/git.md describes it.
#include "runtime/daemon/git.hpp"

#include "messages/errc.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string_view>
#include <system_error>

namespace rouse::cli {

namespace detail {

namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

/// The second line of every hook rouse writes; how install and uninstall tell
/// rouse's hooks from others.
constexpr std::string_view install_marker = "# installed by rouse";

/// What a hook that was there before rouse's is renamed to.
constexpr std::string_view chained_suffix = ".rouse-chained";

/// Commands of install-hooks are bounded too, more generously.
constexpr milliseconds install_budget{30000};

/// Returns `s` as one single-quoted shell word.
std::string shell_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

/// Returns true if the file at `path` (followed if a link) is one of ours.
bool is_rouse_hook(const fs::path& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return false;
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return head.find(install_marker) != std::string::npos;
}

bool present(const fs::path& path) {
  std::error_code ec;
  return fs::symlink_status(path, ec).type() != fs::file_type::not_found && !ec;
}

/// Returns the text of rouse's `hook`, which runs the chained hook first (if
/// any) and then `rouse_lines` (from rouse_call()).
std::string hook_script(const hook_info& hook, const std::string& rouse_lines) {
  std::string name{hook.name};
  std::string chained = "\"$0" + std::string{chained_suffix} + "\"";
  std::ostringstream s;
  s << "#!/bin/sh\n"
    << install_marker
    << ": reports this hook to a rouse server (docs/git.md).\n"
       "# Undo with `rouse git install-hooks --uninstall REPO`. A hook that "
       "was here\n# before is kept as "
    << name << chained_suffix << " and runs first, with the same\n# arguments"
    << (hook.reads_stdin ? " and input" : "")
    << "; its exit status is this hook's.\n";
  if (hook.reads_stdin)
    s << "rouse_in=$(cat; echo x)\nrouse_in=${rouse_in%x}\n";
  s << "rouse_status=0\n"
    << "if [ -x " << chained << " ]; then\n  "
    << (hook.reads_stdin ? "printf '%s' \"$rouse_in\" | " : "") << chained
    << " \"$@\"\n  rouse_status=$?\nfi\n";
  s << rouse_lines << "\nexit $rouse_status\n";
  return s.str();
}

/// Returns the lines that run rouse (or say why they cannot).
std::string rouse_call(const hook_info& hook, const std::string& rouse_path,
                       const std::vector<std::string>& options) {
  std::string cmd =
      shell_quote(rouse_path) + " git hook " + std::string{hook.name};
  for (const auto& o : options)
    cmd += " " + shell_quote(o);
  cmd += " -- \"$@\"";
  std::string out = "if [ -x " + shell_quote(rouse_path) + " ]; then\n  ";
  if (hook.reads_stdin)
    out += "printf '%s' \"$rouse_in\" | " + cmd + "\n";
  else
    out += cmd + " </dev/null\n";
  out += "else\n  printf 'rouse: could not report %s: %s is missing (install "
         "the hooks again)\\n' "
         + std::string{hook.name} + " " + shell_quote(rouse_path) + " >&2\nfi";
  return out;
}

/// Writes `text` to `path` atomically (a temp file renamed over it), mode
/// 0755.
bool write_hook(const fs::path& path, const std::string& text,
                std::string& error) {
  auto tmp = path;
  tmp += ".rouse-tmp";
  {
    std::ofstream out{tmp, std::ios::binary | std::ios::trunc};
    out << text;
    out.close();
    if (!out) {
      error = "cannot write " + tmp.string();
      return false;
    }
  }
  std::error_code ec;
  fs::permissions(tmp,
                  fs::perms::owner_all | fs::perms::group_read
                      | fs::perms::group_exec | fs::perms::others_read
                      | fs::perms::others_exec,
                  ec);
  if (!ec)
    fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    error = "cannot install " + path.string() + ": " + ec.message();
    return false;
  }
  return true;
}

int uninstall_hooks(const fs::path& dir) {
  int found = 0;
  int status = 0;
  for (const auto& hook : known_hooks) {
    auto path = dir / std::string{hook.name};
    auto chained = path;
    chained += chained_suffix;
    bool ours = present(path) && is_rouse_hook(path);
    if (present(path) && !ours) {
      if (present(chained))
        std::cout << hook.name << ": left alone (not installed by rouse; "
                  << chained.filename().string() << " is still there)\n";
      continue;
    }
    std::error_code ec;
    if (ours) {
      ++found;
      fs::remove(path, ec);
    }
    if (!ec && present(chained)) {
      ++found;
      fs::rename(chained, path, ec);
      if (!ec)
        std::cout << hook.name << ": removed, the previous hook is back\n";
    } else if (!ec && ours) {
      std::cout << hook.name << ": removed\n";
    }
    if (ec) {
      std::cerr << "rouse: " << hook.name << ": " << ec.message() << "\n";
      status = 1;
    }
  }
  if (found == 0)
    std::cout << "no rouse hooks in " << dir.string() << "\n";
  return status;
}

} // namespace

} // namespace detail

int git_install_hooks(const std::string& server_url,
                      const std::string& config_path,
                      const git_install_args& args) {
  using namespace detail;
  if (args.repo_name.find_first_of("\n\r") != std::string::npos) {
    std::cerr << "rouse: --repo-name must be one line\n";
    return 2;
  }
  git_runner git{steady::now() + install_budget};
  auto facts = inspect_repo(git, args.repo_path);
  if (!facts) {
    std::cerr << "rouse: " << args.repo_path << " is not a git repository ("
              << describe(facts.error()) << ")\n";
    return 2;
  }
  fs::path dir{facts->hooks_dir};
  if (args.uninstall)
    return uninstall_hooks(dir);

  // The hooks name the server as given; the token is read when they run.
  server_target target;
  if (!resolve_server(server_url, config_path, target))
    return 2;
  std::vector<std::string> options;
  if (!config_path.empty())
    options.insert(
        options.end(),
        {"-c", fs::absolute(config_path).lexically_normal().string()});
  if (!server_url.empty() || config_path.empty())
    options.insert(options.end(), {"--server", server_text(target)});
  if (!args.repo_name.empty())
    options.insert(options.end(), {"--repo-name", args.repo_name});
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) {
    std::cerr << "rouse: cannot find the rouse binary: " << ec.message()
              << "\n";
    return 1;
  }

  // Check every hook before changing any.
  std::vector<const hook_info*> selected;
  for (const auto& hook : known_hooks)
    if (hook.bare == facts->bare)
      selected.push_back(&hook);
  bool conflict = false;
  for (const auto* hook : selected) {
    auto path = dir / std::string{hook->name};
    auto chained = path;
    chained += chained_suffix;
    if (present(path) && !is_rouse_hook(path) && present(chained)) {
      std::cerr << "rouse: " << path.string() << " and " << chained.string()
                << " both exist and neither is rouse's hook; merge or remove "
                   "one of them\n";
      conflict = true;
    }
  }
  if (conflict)
    return 1;
  fs::create_directories(dir, ec);
  if (ec) {
    std::cerr << "rouse: cannot create " << dir.string() << ": " << ec.message()
              << "\n";
    return 1;
  }
  for (const auto* hook : selected) {
    auto path = dir / std::string{hook->name};
    auto chained = path;
    chained += chained_suffix;
    const char* what = "installed";
    if (present(path)) {
      if (is_rouse_hook(path)) {
        what = "updated";
      } else {
        fs::rename(path, chained, ec);
        if (ec) {
          std::cerr << "rouse: cannot rename " << path.string() << ": "
                    << ec.message() << "\n";
          return 1;
        }
        what = "installed; the hook that was there runs first";
      }
    }
    std::string error;
    if (!write_hook(
            path, hook_script(*hook, rouse_call(*hook, self.string(), options)),
            error)) {
      std::cerr << "rouse: " << error << "\n";
      return 1;
    }
    std::cout << hook->name << ": " << what << "\n";
  }
  std::cout << "hooks in " << dir.string() << " report to "
            << server_text(target) << " as repository "
            << (args.repo_name.empty() ? default_repo_name(facts->common_dir)
                                       : args.repo_name)
            << "\n";
  return 0;
}

} // namespace rouse::cli
