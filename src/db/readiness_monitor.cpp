#include "esr/db/readiness_monitor.hpp"

#include "connection.hpp"
#include "esr/db/migrations.hpp"
#include "esr/log.hpp"

#include <pqxx/connection>

#include <chrono>

namespace esr::db {

ReadinessMonitor::ReadinessMonitor(const Config& config) : config_(config) {}

ReadinessMonitor::~ReadinessMonitor() { stop(); }

void ReadinessMonitor::start() {
    thread_ = std::thread([this] { run(); });
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [&] { return checked_once_; });
}

void ReadinessMonitor::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

std::string ReadinessMonitor::not_ready_reason() const {
    std::lock_guard lock(mutex_);
    return reason_;
}

std::string ReadinessMonitor::not_ready_class() const {
    std::lock_guard lock(mutex_);
    return reason_.empty() ? std::string() : class_;
}

namespace {

struct NotReady {
    std::string reason;  // for the log
    std::string cls;     // for the public answer
};

/// The partitions of the coming months, made at start and then at most once an hour (migrate makes
/// them too). A failure leaves the daemon ready: the DEFAULT partition takes any row meanwhile, and
/// it is tried again 5 minutes later.
void keep_partitions_ahead(pqxx::connection_base& connection, std::chrono::steady_clock::time_point& next_try) {
    auto now = std::chrono::steady_clock::now();
    if (now < next_try) return;
    try {
        ensure_partitions(connection);
        next_try = now + std::chrono::hours(1);
    } catch (const std::exception& e) {
        // Not at every health check: each try waits up to its lock timeout in front of writers.
        next_try = now + std::chrono::minutes(5);
        log::warning("making the coming months' partitions failed; trying again in 5 minutes",
                     {{"error", first_line(e.what())}});
    }
}

/// What the readiness thread's database upkeep remembers from one check to the next.
struct Upkeep {
    std::chrono::steady_clock::time_point partitions_next_try{};  // the first check makes them
    std::chrono::steady_clock::time_point migration_next_try{};   // later after a failed migration
    bool history_moved = false;  // no version 2 row left to move: no need to look again
};

/// `may_migrate` is false on the first check, which start() waits for: a migration can take
/// minutes (a lock held, gigabytes to copy), and the daemon must listen (and spool) meanwhile, not
/// outlast systemd's start timeout, be killed, roll the migration back and start over for ever.
NotReady check_once(const Config& config, std::unique_ptr<pqxx::connection>& connection, Upkeep& upkeep,
                    bool may_migrate) {
    try {
        if (!connection) connection = connect(config, "readiness");
        int applied = applied_schema_version(*connection);
        int needed = latest_schema_version();
        if (applied > needed)
            // A newer daemon migrated it (a rolling upgrade): this one's statements may no longer
            // fit the tables, so it says so rather than answer ready and fail every write.
            return {"the database schema is at version " + std::to_string(applied) + ", newer than this build's " +
                        std::to_string(needed) + ": upgrade this daemon",
                    "schema_ahead"};
        if (applied < needed && (!may_migrate || std::chrono::steady_clock::now() < upkeep.migration_next_try))
            return {"the database schema is at version " + std::to_string(applied) + ", this build needs " +
                        std::to_string(needed) + ": migrating",
                    "schema_behind"};
        if (applied < needed) {
            // The daemon migrates when it reaches the database, so a restart during an outage
            // needs no separate step to succeed first (the advisory lock lets daemons take turns).
            try {
                migrate_schema(*connection);  // the old rows move below, the daemon serving meanwhile
                applied = applied_schema_version(*connection);
            } catch (const std::exception& e) {
                connection.reset();
                // Not again at the next health check: a failing migration may hold locks writers
                // need each time it runs (an index build, a table copy).
                upkeep.migration_next_try = std::chrono::steady_clock::now() + std::chrono::minutes(1);
                return {"the database schema is at version " + std::to_string(applied) + ", this build needs " +
                            std::to_string(needed) + ", and migrating failed (trying again in a minute): " +
                            first_line(e.what()),
                        "schema_behind"};
            }
        }
        if (applied < needed)
            return {"the database schema is at version " + std::to_string(applied) + ", this build needs " +
                        std::to_string(needed) + ": run 'eventsshop-receiver migrate'",
                    "schema_behind"};
        keep_partitions_ahead(*connection, upkeep.partitions_next_try);
        // Rows a migration from version 2 left to move (docs/partitioning.md): a few seconds of
        // batches a check, not on the first (start() waits for it).
        if (may_migrate && !upkeep.history_moved)
            upkeep.history_moved = continue_history_move(*connection, std::chrono::seconds(3));
        return {};
    } catch (const std::exception& e) {
        connection.reset();
        return {"the database is unreachable: " + first_line(e.what()), "database_unavailable"};
    }
}

}  // namespace

void ReadinessMonitor::run() {
    std::unique_ptr<pqxx::connection> connection;  // this thread's alone
    Upkeep upkeep;
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        const bool may_migrate = checked_once_;
        lock.unlock();
        NotReady now = check_once(config_, connection, upkeep, may_migrate);
        lock.lock();
        if (now.reason != reason_) {
            if (now.reason.empty()) log::info("ready");
            else log::warning("not ready", {{"reason", now.reason}, {"class", now.cls}});
        }
        reason_ = std::move(now.reason);
        class_ = std::move(now.cls);
        if (!checked_once_) {
            checked_once_ = true;
            wake_.notify_all();
            if (now.cls == "schema_behind") continue;  // migrate now, not a health interval later
        }
        wake_.wait_for(lock, config_.health_interval, [&] { return stopping_; });
    }
}

}  // namespace esr::db
