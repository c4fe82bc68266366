#include "esr/log.hpp"

#include <boost/json/serialize.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <stdexcept>
#include <string>

#include <poll.h>
#include <unistd.h>

namespace esr::log {
namespace {

std::atomic<int> threshold{static_cast<int>(Level::info)};
const bool under_journald = std::getenv("JOURNAL_STREAM") != nullptr;

std::string_view name_of(Level level) {
    switch (level) {
        case Level::debug: return "debug";
        case Level::info: return "info";
        case Level::warning: return "warning";
        case Level::error: return "error";
    }
    return "info";
}

/// Appends the UTC time with milliseconds; the formatted second is kept per thread, as gmtime and
/// strftime for every request line showed up in profiles.
void append_utc_now(std::string& out) {
    using namespace std::chrono;
    auto now = system_clock::now();
    const std::time_t t = system_clock::to_time_t(now);
    thread_local std::time_t cached_second = -1;
    thread_local char cached[24];
    thread_local std::size_t cached_size = 0;
    if (t != cached_second) {
        std::tm tm{};
        gmtime_r(&t, &tm);
        cached_size = std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_second = t;
    }
    const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms));
    out.append(cached, cached_size).append(frac);
}

}  // namespace

void set_level(std::string_view name) {
    for (Level l : {Level::debug, Level::info, Level::warning, Level::error}) {
        if (name_of(l) == name) {
            threshold = static_cast<int>(l);
            return;
        }
    }
    throw std::invalid_argument("unknown log level");
}

bool enabled(Level level) { return static_cast<int>(level) <= threshold.load(std::memory_order_relaxed); }

namespace {

std::string format_line(Level level, std::string_view msg, const boost::json::object& fields) {
    // Written field by field rather than through a copied object: one line per request.
    std::string text;
    text.reserve(256);
    if (under_journald) {
        text += '<';
        text += std::to_string(static_cast<int>(level));
        text += '>';
    }
    text += R"({"time":")";
    append_utc_now(text);
    text += R"(","level":")";
    text += name_of(level);
    text += R"(","msg":)";
    text += boost::json::serialize(boost::json::string_view(msg.data(), msg.size()));
    for (const auto& f : fields) {
        text += ',';
        text += boost::json::serialize(f.key());
        text += ':';
        text += boost::json::serialize(f.value());
    }
    text += "}\n";
    return text;
}

void write_out(std::string_view text) {
    const char* p = text.data();
    std::size_t left = text.size();
    while (left > 0) {
        ssize_t n = ::write(STDERR_FILENO, p, left);
        if (n < 0 && errno == EINTR) continue;  // a signal (asio's handlers are not SA_RESTART)
        if (n < 0 && errno == EAGAIN) {
            // A non-blocking stderr that is full: wait for room, briefly; a write carries many
            // request lines now, so giving up at once would drop them all.
            pollfd out{STDERR_FILENO, POLLOUT, 0};
            if (::poll(&out, 1, 1000) > 0) continue;
        }
        if (n <= 0) return;  // nowhere to log to; never fail the caller for it
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

// Lines kept by write_soon(), in the order they came; every write goes through the lock, so no
// line overtakes one kept before it.
std::mutex kept_mutex;
std::string kept;

// Writes what is kept; kept_mutex held.
void write_kept() {
    write_out(kept);
    kept.clear();
}

}  // namespace

void write(Level level, std::string_view msg, const boost::json::object& fields) {
    if (!enabled(level)) return;
    const std::string text = format_line(level, msg, fields);
    std::lock_guard lock(kept_mutex);
    if (kept.empty()) return write_out(text);
    kept += text;  // one write for the kept lines and this one
    write_kept();
}

bool write_soon(Level level, std::string_view msg, const boost::json::object& fields) {
    if (!enabled(level)) return false;
    const std::string text = format_line(level, msg, fields);
    std::lock_guard lock(kept_mutex);
    const bool first = kept.empty();
    kept += text;
    if (kept.size() < kept_bytes_max) return first;
    write_kept();
    return false;
}

void flush() {
    std::lock_guard lock(kept_mutex);
    if (!kept.empty()) write_kept();
}

}  // namespace esr::log
