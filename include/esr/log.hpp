#pragma once

#include <boost/json/object.hpp>

#include <cstddef>
#include <string_view>

namespace esr::log {

enum class Level { debug = 7, info = 6, warning = 4, error = 3 };

/// Throws std::invalid_argument for a name other than debug, info, warning, error.
void set_level(std::string_view name);
bool enabled(Level level);

/// Writes one JSON line to stderr with "time", "level" and "msg" first, then `fields`.
/// Under systemd (JOURNAL_STREAM set) the line starts with a "<N>" priority prefix, which
/// journald turns into the entry's priority. One write(2) per line, so lines never interleave.
void write(Level level, std::string_view msg, const boost::json::object& fields = {});

/// As write(), but the line is kept until flush() (or the next write(), or 64 KiB of kept lines):
/// for a line per request, which would otherwise cost a system call each. Returns true when the
/// line is the first one kept, for the caller to arrange a flush() soon.
bool write_soon(Level level, std::string_view msg, const boost::json::object& fields);
inline constexpr std::size_t kept_bytes_max = 64 << 10;

/// Writes the lines write_soon() kept.
void flush();

inline void debug(std::string_view m, const boost::json::object& f = {}) { write(Level::debug, m, f); }
inline void info(std::string_view m, const boost::json::object& f = {}) { write(Level::info, m, f); }
inline void warning(std::string_view m, const boost::json::object& f = {}) { write(Level::warning, m, f); }
inline void error(std::string_view m, const boost::json::object& f = {}) { write(Level::error, m, f); }

}  // namespace esr::log
