// Private to runtime/daemon/cli_*.cpp: the request helpers every client
// subcommand uses to talk to a running server and print its answers.
#pragma once

#include "runtime/daemon/commands.hpp"
#include "runtime/http/client.hpp"

#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

namespace rouse::cli::detail {

/// Reads the file at `path` ("-": standard input) into `out`; prints why
/// not and returns false if it cannot.
bool read_input(const std::string& path, std::string& out);

/// Returns the response, or prints why there is none and returns nullopt.
std::optional<http::response> call(const server_target& target,
                                   http::client_request req);

/// Prints the server's error message for a failed request; returns the exit
/// code (2 for 400, 404 and 413, else 1).
int report_error(const http::response& r);

/// The member `key` of `e` as text (a number as written); "" if absent.
std::string get_string(simdjson::dom::element e, const char* key);

/// Percent-encodes `s` for use as one path segment or query value.
std::string url_encode(std::string_view s);

/// Sends an action (wake, cancel, replay, ...) and prints the server's JSON
/// answer with --json, else `done_line`; returns the exit code.
int post_action(const server_target& target, http::client_request req,
                bool json, const std::string& done_line);

/// Fetches a JSON document. Returns the exit code when the command is done
/// (server unreachable, an error answer, or the body printed for --json);
/// otherwise nullopt, with `doc` parsed into `parser`.
std::optional<int> get_document(const server_target& target,
                                http::client_request req, bool json,
                                simdjson::dom::parser& parser,
                                simdjson::dom::element& doc);

} // namespace rouse::cli::detail
