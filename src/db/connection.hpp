#pragma once

#include "esr/config.hpp"

#include <pqxx/connection>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace esr::db {

/// The connection string libpq gets: `url` (a URI or key=value string) with this daemon's defaults
/// for what it leaves unset, so a black-holed database fails a connection or a statement within
/// seconds instead of hanging a writer for the kernel's TCP timeouts (minutes):
/// connect_timeout=10, keepalives=1, keepalives_idle=30, keepalives_interval=10,
/// keepalives_count=3, tcp_user_timeout=30000 (ms). Parsed by libpq itself (PQconninfoParse).
/// Throws std::invalid_argument with libpq's message when `url` cannot be parsed.
std::string with_connection_defaults(const std::string& url);

/// `url` as libpq reads it, in key=value form, every secret libpq knows of (password,
/// sslpassword, in whatever form: URI user info, query parameter, quoted, repeated) shown as ***.
/// For check-config; a string libpq cannot parse is not shown at all.
std::string redacted_connection_string(const std::string& url);

/// A connection with the session settings every connection of ours uses: the defaults above, an
/// application_name, synchronous_commit at least `on` (a role or cluster set to `off` or `local`
/// would make a commit we acknowledge vanish in a PostgreSQL crash, or on a failover), and, when
/// given, a statement_timeout.
/// `password`, when not empty, is used unless the URL names one itself.
std::unique_ptr<pqxx::connection> connect(const std::string& url, const std::string& password,
                                          const std::string& purpose,
                                          std::optional<std::chrono::milliseconds> statement_timeout);

/// Whether libpq reads a password in `url` (false when it cannot parse it).
bool names_a_password(const std::string& url);

/// The daemon's connections: connect() with --statement-timeout.
std::unique_ptr<pqxx::connection> connect(const Config& config, const std::string& purpose);

/// The first line of a libpq/libpqxx message, for logs and error bodies.
std::string first_line(const std::string& message);

}  // namespace esr::db
