// The child registry: writes and removes one file per live child, and
// kill_leftovers(), which kills the children a killed rouse left behind.
#include "runtime/exec/registry.hpp"

#include "runtime/exec/process_runner.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <system_error>
#include <vector>

namespace rouse::exec {

namespace detail {

namespace {

/// The first line of every registry file; a new format gets a new number.
constexpr std::string_view format_line = "rouse-exec-registry 1";

/// The lock file inside the registry directory; never an entry.
constexpr std::string_view lock_name = ".lock";

/// Bytes read from a registry file at most; a longer file is malformed.
constexpr std::size_t max_entry_bytes = 64 * 1024;

/// How long kill_leftovers() waits for the processes it killed to exit: a
/// SIGKILLed process is gone within milliseconds unless stuck in the kernel.
constexpr auto leftover_wait = std::chrono::seconds{2};

caf::error registry_error(const std::string& what, int err) {
  return make_error(errc::spawn_failed,
                    "registry " + what + ": " + errno_text(err));
}

/// Reads at most `max_bytes` of the file `name` in `dir_fd` (AT_FDCWD: a
/// path); none with errno set if that fails or the file is longer.
std::optional<std::string> read_small_file(int dir_fd, const char* name,
                                           std::size_t max_bytes) {
  unique_fd fd{::openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
  if (!fd)
    return std::nullopt;
  std::string text;
  char buf[4096];
  for (;;) {
    auto n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return std::nullopt;
    if (n == 0)
      return text;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > max_bytes) {
      errno = EFBIG;
      return std::nullopt;
    }
  }
}

/// Returns the number in `text` if it is all decimal digits.
template <class Int>
std::optional<Int> parse_decimal(std::string_view text) {
  Int value{};
  auto end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || text.front() == '-' || ec != std::errc{} || ptr != end)
    return std::nullopt;
  return value;
}

/// Removes the line ending at the first newline of `text` from it and returns
/// that line without the newline; none if there is no newline.
std::optional<std::string_view> take_line(std::string_view& text) {
  auto end = text.find('\n');
  if (end == std::string_view::npos)
    return std::nullopt;
  auto line = text.substr(0, end);
  text.remove_prefix(end + 1);
  return line;
}

/// Returns true if `id` looks like a boot id: printable, no blanks.
bool valid_boot_id(std::string_view id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return c > ' ' && c < 0x7f;
  });
}

/// Creates `dir` if missing and takes the exclusive lock on it.
caf::expected<unique_fd> lock_registry(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return registry_error(dir, ec.value());
  auto path = dir + "/" + std::string{lock_name};
  unique_fd fd{::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)};
  if (!fd)
    return registry_error(path, errno);
  int rc;
  do {
    rc = ::flock(fd.get(), LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0 && errno == EWOULDBLOCK)
    return make_error(errc::spawn_failed,
                      "registry " + dir + ": in use by another process runner");
  if (rc != 0)
    return registry_error(path, errno);
  return fd;
}

/// Returns the pid named by a registry file name, none if the name is not
/// one the runner writes or names no pid that may be signalled: 0, 1 and
/// negative values would reach whole process groups or init, and this
/// process must never kill itself.
std::optional<int> pid_of_name(const std::string& name) {
  auto pid = parse_decimal<int>(name);
  if (!pid || *pid <= 1 || *pid == ::getpid() || std::to_string(*pid) != name)
    return std::nullopt;
  return pid;
}

/// Removes the entry `name` of the directory `dir_fd`, file or empty
/// directory; failures are ignored (nothing better to do at startup).
void remove_entry(int dir_fd, const char* name) {
  if (::unlinkat(dir_fd, name, 0) != 0 && (errno == EISDIR || errno == EPERM))
    ::unlinkat(dir_fd, name, AT_REMOVEDIR);
}

} // namespace

caf::expected<std::string> read_boot_id() {
  constexpr auto path = "/proc/sys/kernel/random/boot_id";
  auto text = read_small_file(AT_FDCWD, path, 256);
  if (!text)
    return registry_error(path, errno);
  if (!text->empty() && text->back() == '\n')
    text->pop_back();
  if (!valid_boot_id(*text))
    return make_error(errc::spawn_failed,
                      std::string{"registry "} + path + ": unexpected text");
  return std::move(*text);
}

std::optional<proc_stat> read_proc_stat(int pid) {
  auto path = "/proc/" + std::to_string(pid) + "/stat";
  auto text = read_small_file(AT_FDCWD, path.c_str(), 4096);
  if (!text)
    return std::nullopt;
  // Field 2 is "(comm)", and comm may hold spaces and parentheses: the fields
  // after it start behind the last ')'.
  auto name_end = text->rfind(')');
  if (name_end == std::string::npos)
    return std::nullopt;
  std::string_view rest{*text};
  rest.remove_prefix(name_end + 1);
  // rest = " <state:3> <ppid:4> ... <starttime:22> ..."
  std::vector<std::string_view> fields;
  while (!rest.empty() && fields.size() < 20) {
    if (rest.front() == ' ') {
      rest.remove_prefix(1);
      continue;
    }
    auto end = std::min(rest.find(' '), rest.size());
    fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end);
  }
  if (fields.size() < 20 || fields[0].size() != 1)
    return std::nullopt;
  auto start_time = parse_decimal<uint64_t>(fields[19]);
  if (!start_time)
    return std::nullopt;
  return proc_stat{fields[0][0], *start_time};
}

std::string format_registry_entry(const registry_entry& entry) {
  std::string text{format_line};
  text += '\n';
  text += entry.boot_id;
  text += '\n';
  text += std::to_string(entry.start_time);
  text += '\n';
  text += entry.tag;
  text += '\n';
  return text;
}

std::optional<registry_entry> parse_registry_entry(std::string_view text) {
  auto format = take_line(text);
  auto boot_id = take_line(text);
  auto start_time = take_line(text);
  // The tag may hold newlines: it is the rest, minus the final newline.
  if (!format || *format != format_line || !boot_id || !valid_boot_id(*boot_id)
      || !start_time || text.empty() || text.back() != '\n')
    return std::nullopt;
  auto ticks = parse_decimal<uint64_t>(*start_time);
  if (!ticks)
    return std::nullopt;
  text.remove_suffix(1);
  return registry_entry{std::string{*boot_id}, *ticks, std::string{text}};
}

caf::error write_registry_file(const std::string& dir, int pid,
                               const registry_entry& entry) {
  auto name = std::to_string(pid);
  auto path = dir + "/" + name;
  // A dot name is never taken for an entry; kill_leftovers() removes one
  // left by a crash between open() and rename().
  auto temp = dir + "/." + name + ".tmp";
  unique_fd fd{::open(temp.c_str(),
                      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                      0600)};
  if (!fd)
    return registry_error(temp, errno);
  auto text = format_registry_entry(entry);
  std::size_t written = 0;
  int err = 0;
  while (err == 0 && written < text.size()) {
    auto n = ::write(fd.get(), text.data() + written, text.size() - written);
    if (n >= 0)
      written += static_cast<std::size_t>(n);
    else if (errno != EINTR)
      err = errno;
  }
  // close() frees the descriptor even when it fails, and a failure here
  // (EIO, a quota) means the text may not be stored.
  if (::close(fd.release()) != 0 && err == 0)
    err = errno;
  if (err == 0 && ::rename(temp.c_str(), path.c_str()) != 0)
    err = errno;
  if (err != 0) {
    ::unlink(temp.c_str());
    return registry_error(path, err);
  }
  return {};
}

caf::expected<child_registry> child_registry::open(const std::string& dir) {
  auto lock = lock_registry(dir);
  if (!lock)
    return std::move(lock.error());
  auto boot_id = read_boot_id();
  if (!boot_id)
    return std::move(boot_id.error());
  child_registry result;
  result.dir_ = dir;
  result.boot_id_ = std::move(*boot_id);
  result.lock_ = std::move(*lock);
  return result;
}

caf::error child_registry::add(int pid, const std::string& tag) const {
  if (!enabled())
    return {};
  auto stat = read_proc_stat(pid);
  if (!stat)
    return make_error(errc::spawn_failed, "registry " + dir_
                                              + ": cannot read /proc/"
                                              + std::to_string(pid) + "/stat");
  return write_registry_file(dir_, pid,
                             registry_entry{boot_id_, stat->start_time, tag});
}

void child_registry::remove(int pid) const {
  if (enabled())
    ::unlink((dir_ + "/" + std::to_string(pid)).c_str());
}

} // namespace detail

caf::expected<std::vector<leftover_process>>
kill_leftovers(const std::string& registry_dir) {
  using namespace detail;
  std::vector<leftover_process> killed;
  if (registry_dir.empty())
    return killed;
  auto lock = lock_registry(registry_dir);
  if (!lock)
    return std::move(lock.error());
  auto boot_id = read_boot_id();
  if (!boot_id)
    return std::move(boot_id.error());
  DIR* dir = ::opendir(registry_dir.c_str());
  if (dir == nullptr)
    return registry_error(registry_dir, errno);
  std::vector<std::string> names;
  for (;;) {
    errno = 0; // readdir() returns null at the end and on errors alike
    auto* ent = ::readdir(dir);
    if (ent == nullptr)
      break;
    std::string_view name{ent->d_name};
    if (name != "." && name != ".." && name != lock_name)
      names.emplace_back(name);
  }
  if (errno != 0) {
    auto err = errno;
    ::closedir(dir);
    return registry_error(registry_dir, err);
  }
  // Pins each killed process: a pidfd keeps referring to it even if its pid
  // is reused, and polls readable once it exited.
  std::vector<unique_fd> pidfds;
  for (const auto& name : names) {
    auto pid = pid_of_name(name);
    std::optional<std::string> text;
    if (pid)
      text = read_small_file(::dirfd(dir), name.c_str(), max_entry_bytes);
    std::optional<registry_entry> entry;
    if (text)
      entry = parse_registry_entry(*text);
    unique_fd pidfd;
    if (entry && entry->boot_id == *boot_id)
      pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, *pid, 0)));
    // Checked after pidfd_open: a process that got the pid before it has a
    // different start time, and none can get it after.
    std::optional<proc_stat> stat;
    if (pidfd)
      stat = read_proc_stat(*pid);
    if (stat && stat->start_time == entry->start_time && stat->state != 'Z') {
      // The group first: while its leader lives, group <pid> is the one the
      // runner created. The leader itself too, should it have left it.
      ::kill(-*pid, SIGKILL);
      ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
      killed.push_back(leftover_process{*pid, std::move(entry->tag), false});
      pidfds.push_back(std::move(pidfd));
    }
    remove_entry(::dirfd(dir), name.c_str());
  }
  ::closedir(dir);
  auto deadline = std::chrono::steady_clock::now() + leftover_wait;
  for (;;) {
    std::vector<pollfd> waiting;
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < killed.size(); ++i) {
      if (!killed[i].gone) {
        waiting.push_back(pollfd{pidfds[i].get(), POLLIN, 0});
        index.push_back(i);
      }
    }
    auto left = std::chrono::ceil<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (waiting.empty() || left.count() <= 0)
      break;
    int n =
        ::poll(waiting.data(), waiting.size(), static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR)
      break;
    for (std::size_t j = 0; n > 0 && j < waiting.size(); ++j)
      if (waiting[j].revents != 0)
        killed[index[j]].gone = true;
  }
  return killed;
}

} // namespace rouse::exec
