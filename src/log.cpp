#include "esr/log.hpp"

#include <boost/json/serialize.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <stdexcept>
#include <string>

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

std::string utc_now() {
    using namespace std::chrono;
    auto now = system_clock::now();
    std::time_t t = system_clock::to_time_t(now);
    auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms));
    return buf;
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

void write(Level level, std::string_view msg, const boost::json::object& fields) {
    if (!enabled(level)) return;
    boost::json::object line;
    line.reserve(fields.size() + 3);
    line["time"] = utc_now();
    line["level"] = name_of(level);
    line["msg"] = msg;
    for (const auto& f : fields) line[f.key()] = f.value();
    std::string text;
    if (under_journald) {
        text += '<';
        text += std::to_string(static_cast<int>(level));
        text += '>';
    }
    text += boost::json::serialize(line);
    text += '\n';
    const char* p = text.data();
    std::size_t left = text.size();
    while (left > 0) {
        ssize_t n = ::write(STDERR_FILENO, p, left);
        if (n <= 0) return;  // nowhere to log to; never fail the caller for it
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

}  // namespace esr::log
