#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pqxx {
class connection_base;
}

namespace esr::db {

/// How many days of each history `prune` keeps; 0 keeps it for ever (the default).
struct RetentionPolicy {
    unsigned demand_history_days = 0;  // hotel_demand (whole months) and demand_event_records
    unsigned body_days = 0;            // deliveries: the raw bodies (whole months); digests stay
    unsigned rejected_days = 0;        // rejected_deliveries
};

/// One thing prune drops, or would drop: a monthly partition, or the rows of a table received
/// before the cutoff.
struct PruneStep {
    std::string table;         // deliveries, hotel_demand, demand_event_records, rejected_deliveries
    std::string what;          // the partition's name, or "rows"
    std::string from, to;      // the month a partition holds (UTC dates, `to` exclusive); empty for rows
    std::int64_t rows = 0;     // exact once done; PostgreSQL's estimate for a partition not dropped
    std::int64_t bytes = 0;    // on disk (a partition, indexes and TOAST included) or the rows' own size
    bool done = false;         // dropped or deleted (false in a dry run, or when it failed)
    std::string kept;          // why a listed partition was kept after all (not a failure)
    std::string error;         // why it failed (a lock not granted in time, ...); the run goes on
};

/// Drops what the policy no longer keeps: monthly partitions of deliveries and hotel_demand that
/// ended more than the configured days ago (each in its own transaction, written down in
/// eventsshop.pruned_partitions), and rows of demand_event_records and rejected_deliveries older
/// than that, deleted in bounded batches. First empties the DEFAULT partitions into monthly ones
/// (ensure_partitions), so no old row escapes. With `dry_run` it only lists. Writers queue behind a
/// drop's lock request, so it is asked for briefly (200 ms, ten times, a second apart); a table
/// that stays busy is reported with its error and left to the next run. A month a wrong database
/// clock filled is refused (its error says so).
std::vector<PruneStep> prune(pqxx::connection_base& connection, const RetentionPolicy& policy, bool dry_run,
                             const std::function<void(const PruneStep&)>& on_step);

/// A month of bodies prune dropped: deliveries reprocess can no longer rebuild.
struct PrunedBodies {
    std::string partition, from, to;
    std::int64_t deliveries = 0;
    std::int64_t first_id = 0, last_id = 0;
};

/// Those months that end after `since` (a timestamptz text; all when empty).
std::vector<PrunedBodies> pruned_bodies(pqxx::connection_base& connection, const std::string& since);

}  // namespace esr::db
