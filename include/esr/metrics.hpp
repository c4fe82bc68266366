#pragma once

#include "esr/http/route.hpp"
#include "esr/kind.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace esr {

/// What GET /metrics reports, in Prometheus' text format. Counters are atomics: recording costs a
/// few relaxed increments on the request path, and a scrape never waits on the database.
class Metrics {
public:
    /// Read at scrape time from the parts that own them.
    struct Gauges {
        std::uint64_t queue_depth = 0;
        std::uint64_t spool_records = 0;
        std::uint64_t spool_bytes = 0;
        double spool_oldest_age_seconds = 0;
        std::uint64_t spool_drain_failures = 0;
        std::uint64_t spool_quarantined = 0;
        std::uint64_t spool_corrupt_regions = 0;
        bool spool_in_service = true;
        bool spool_enabled = false;
        bool database_up = false;
    };

    /// One answered request, counted under the route its session found for it.
    void request(http::Route route, unsigned status, std::chrono::microseconds duration, std::uint64_t bytes_in);
    void delivery(Kind kind, std::int64_t records, bool duplicate, bool spooled);
    void auth_failure() { auth_failures_.fetch_add(1, std::memory_order_relaxed); }
    void rejected(std::string_view code);
    void commit(std::chrono::microseconds duration);
    /// Where the open-connection gauge is read at scrape time: the server's registry owns that
    /// count, so it is not kept twice. Cleared (nullptr) by the server before it goes; 0 without.
    void count_connections_with(std::function<std::size_t()> source);
    /// A connection turned away at --max-connections or --max-connections-per-address.
    void connection_refused() { connections_refused_.fetch_add(1, std::memory_order_relaxed); }

    std::string render(const Gauges& gauges) const;

    // Every status the daemon answers (esr/http/answers.hpp's catalogue and the successes), so
    // none is exported as "other" (the 0 at the end); a unit test holds the two together.
    static constexpr std::array<unsigned, 13> statuses{200, 202, 400, 401, 404, 405, 408, 413, 429, 431, 500, 503, 0};

private:
    struct Histogram {
        static constexpr std::array<double, 13> bounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                       0.25,  0.5,    1,     2.5,  5,     10};
        std::array<std::atomic<std::uint64_t>, bounds.size() + 1> buckets{};  // the last is +Inf
        std::atomic<std::uint64_t> sum_us{0};
        void observe(std::chrono::microseconds d);
        void render(std::string& out, const std::string& name, const std::string& labels) const;
    };

    std::array<std::array<std::atomic<std::uint64_t>, statuses.size()>, http::route_count> requests_{};
    std::array<Histogram, http::route_count> request_seconds_{};
    std::array<std::atomic<std::uint64_t>, 4> deliveries_{}, records_{};  // by Kind
    std::atomic<std::uint64_t> duplicates_{0}, spooled_{0}, auth_failures_{0}, bytes_received_{0};
    std::atomic<std::uint64_t> rejected_invalid_json_{0}, rejected_kind_mismatch_{0};
    mutable std::mutex connections_source_mutex_;  // a scrape may race a server's start or end
    std::function<std::size_t()> connections_source_;
    std::atomic<std::uint64_t> connections_refused_{0};
    std::array<std::atomic<std::int64_t>, 4> last_delivery_unix_{};  // by Kind; 0: none since start
    Histogram commit_seconds_;
};

}  // namespace esr
