#pragma once

// When to try a delivery's hotel_demand_latest update again after it failed (apply_pending_latest,
// large_delivery.cpp). The update is tried after every large delivery and every second besides.
//   * Refused (the rows' fault: a data exception, a constraint, what a trigger or function raised,
//     a cardinality or program limit such as an index entry's size), or over a limit set for each
//     statement (temp_file_limit: the delivery's size): it will fail again until someone
//     reprocesses the delivery or raises the limit, and for a year-long matrix each try costs
//     seconds of database time and an error line. The deliveries after it go on; it waits a
//     minute, doubling up to an hour.
//   * Anything else says the database's state (read-only, a lock timeout, a deadlock, a full disk,
//     a missing object), which the next delivery would meet too: the turn ends and the next tries
//     again; from the third such failure in a row, each puts the delivery off for a minute, so
//     that it cannot keep every delivery after it waiting, and never longer, so that none waits
//     long once the database mends, however long it failed.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string_view>

namespace esr::db {

class LatestRetries {
public:
    using clock = std::chrono::steady_clock;
    enum class Why { refused, over_limit, database };

    static Why why(std::string_view sqlstate) {
        auto in_class = [&](std::string_view cls) { return sqlstate.substr(0, 2) == cls; };
        if (in_class("21") || in_class("22") || in_class("23") || in_class("54") || in_class("P0") ||
            in_class("2F") || in_class("38") || in_class("39"))
            return Why::refused;
        if (sqlstate == "53400") return Why::over_limit;
        return Why::database;
    }

    /// Whether `id` is put off now.
    bool wait(std::int64_t id, clock::time_point now = clock::now()) {
        std::lock_guard lock(mutex_);
        auto it = entries_.find(id);
        return it != entries_.end() && now < it->second.retry_at;
    }

    struct Retry {
        std::chrono::minutes pause;  // zero: at the next turn, which this failure ends
        Why why;
    };
    /// `id`'s update failed with `sqlstate`: when to try it again.
    Retry failed(std::int64_t id, std::string_view sqlstate, clock::time_point now = clock::now()) {
        std::lock_guard lock(mutex_);
        Entry& e = entries_[id];
        const Why w = why(sqlstate);
        if (w != Why::database) {
            e.pause = e.pause.count() == 0 ? std::chrono::minutes(1) : std::min(e.pause * 2, std::chrono::minutes(60));
            e.retry_at = now + e.pause;
            return {e.pause, w};
        }
        if (++e.failures_in_a_row < 3) return {std::chrono::minutes(0), w};
        e.retry_at = now + std::chrono::minutes(1);
        return {std::chrono::minutes(1), w};
    }
    /// Applied (here or elsewhere), or to be tried at once.
    void forget(std::int64_t id) {
        std::lock_guard lock(mutex_);
        entries_.erase(id);
    }
    void keep_only(const std::set<std::int64_t>& pending) {
        std::lock_guard lock(mutex_);
        std::erase_if(entries_, [&](const auto& entry) { return !pending.contains(entry.first); });
    }

private:
    struct Entry {
        clock::time_point retry_at;
        std::chrono::minutes pause{0};  // the last doubling one
        int failures_in_a_row = 0;      // of the database's kind
    };
    std::mutex mutex_;
    std::map<std::int64_t, Entry> entries_;
};

}  // namespace esr::db
