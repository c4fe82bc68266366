#pragma once

// When to try a delivery's hotel_demand_latest update again after it failed (apply_pending_latest,
// large_delivery.cpp). The update is tried after every large delivery and every second besides.
//   * Refused (the rows' fault: a data exception, a constraint, a trigger): it will be refused
//     again until someone reprocesses the delivery, and for a year-long matrix each try costs
//     seconds of database time and an error line: a minute, doubling up to an hour.
//   * Failed otherwise (a lock timeout, a read-only or failing database): the next turn tries it
//     again; from the third such failure in a row, each puts it off, so that it cannot keep every
//     delivery after it waiting: for a minute while nothing else is applied either (the
//     database's state, which may mend at any moment), doubling up to an hour once other
//     deliveries are applied between its tries (its own, as a refusal is).

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>

namespace esr::db {

class LatestRetries {
public:
    using clock = std::chrono::steady_clock;

    /// Whether `id` is put off now.
    bool wait(std::int64_t id, clock::time_point now = clock::now()) {
        std::lock_guard lock(mutex_);
        auto it = entries_.find(id);
        return it != entries_.end() && now < it->second.retry_at;
    }
    /// Refused: how long until the next try.
    std::chrono::minutes refused(std::int64_t id, clock::time_point now = clock::now()) {
        std::lock_guard lock(mutex_);
        Entry& e = entries_[id];
        e.refusal_pause = e.refusal_pause.count() == 0 ? std::chrono::minutes(1)
                                                       : std::min(e.refusal_pause * 2, std::chrono::minutes(60));
        e.retry_at = now + e.refusal_pause;
        return e.refusal_pause;
    }
    /// Failed otherwise: how long until the next try (none: at the next turn).
    std::chrono::minutes failed(std::int64_t id, clock::time_point now = clock::now()) {
        std::lock_guard lock(mutex_);
        Entry& e = entries_[id];
        const bool others_applied_since = e.failures_in_a_row > 0 && applied_ > e.applied_at_last_failure;
        e.applied_at_last_failure = applied_;
        if (++e.failures_in_a_row < 3) return std::chrono::minutes(0);
        if (others_applied_since) {  // the database took other deliveries' updates: this one's own
            e.refusal_pause = e.refusal_pause.count() == 0 ? std::chrono::minutes(2)
                                                           : std::min(e.refusal_pause * 2, std::chrono::minutes(60));
            e.retry_at = now + e.refusal_pause;
            return e.refusal_pause;
        }
        // Not doubled: what failed may be the database's state, which may mend at any moment, and
        // which every delivery meets alike (an outage of hours would otherwise leave each one an
        // hour to wait once it ended).
        const auto pause = std::chrono::minutes(1);
        e.retry_at = now + pause;
        return pause;
    }
    /// Applied here: what tells a delivery's own failures from the database's.
    void applied(std::int64_t id) {
        std::lock_guard lock(mutex_);
        entries_.erase(id);
        ++applied_;
    }
    /// Applied elsewhere, or to be tried at once.
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
        std::chrono::minutes refusal_pause{0};
        int failures_in_a_row = 0;
        std::uint64_t applied_at_last_failure = 0;  // applied_ then
    };
    std::mutex mutex_;
    std::map<std::int64_t, Entry> entries_;
    std::uint64_t applied_ = 0;
};

}  // namespace esr::db
