#pragma once

#include <chrono>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <string_view>

namespace pqxx {
class connection_base;
}

namespace esr::db {

/// One numbered file of schema/, compiled into the binary so an installed daemon needs no
/// schema directory to migrate.
struct Migration {
    int version;
    std::string_view name;
    std::string_view sql;
};

std::span<const Migration> migrations();
int latest_schema_version();

/// Applies the migrations the database lacks, each in its own transaction, under an advisory lock
/// so two daemons migrating at once do not collide, then moves every row a migration from version
/// 2 left in the old tables (move_history), to completion. Returns how many migrations were
/// applied. Stops after version `up_to` (tests build an old schema with it). Once the schema has
/// partitions (version 3), makes sure the coming months' exist (ensure_partitions).
int migrate(pqxx::connection_base& connection, int up_to = std::numeric_limits<int>::max());

/// As migrate(), without moving the old rows: what a daemon runs, so that it serves as soon as the
/// schema is in place; it moves them with continue_history_move() afterwards.
int migrate_schema(pqxx::connection_base& connection, int up_to = std::numeric_limits<int>::max());

/// Rows a batch of move_history() moves at most: ESR_MIGRATION_BATCH_ROWS when set to a positive
/// number (tests make it small), else history_batch_rows_default.
inline constexpr int history_batch_rows_default = 10'000;
int history_batch_rows();

/// A batch of deliveries stops short of this many bytes of bodies (it holds one delivery at least).
inline constexpr long long history_batch_bytes = 64LL << 20;

/// Moves the rows schema/003 left in the version 2 tables (eventsshop.hotel_demand_v2 first, then
/// eventsshop.deliveries_v2) into the partitioned ones, one batch per transaction under the
/// migrations' advisory lock, and drops each old table once it is empty. Asks `go_on` (when given)
/// before each batch and returns when it says no. Returns true when no old row is left (at once
/// when there was none: a database that never was at version 2, or already moved). Interrupted
/// anywhere, it loses and repeats nothing: a batch's rows leave the old table in the transaction
/// that puts them in the new one, and the next call goes on with those left.
bool move_history(pqxx::connection_base& connection, const std::function<bool()>& go_on = {},
                  int batch_rows = history_batch_rows());

/// Whether rows of version 2 still wait in the old tables. Commands that read every delivery or drop
/// months (reprocess, prune) refuse to run meanwhile: they would pass over, or misjudge, what is
/// not moved yet.
bool history_move_pending(pqxx::connection_base& connection);

/// move_history() for about `budget` (it checks between batches), for the daemon's readiness
/// thread; a failure is logged, not thrown (the next call goes on where it stopped).
/// Returns true once no old row is left, after which the caller need not ask again.
bool continue_history_move(pqxx::connection_base& connection, std::chrono::milliseconds budget);

/// How many months past this one have their partitions made ahead of need.
inline constexpr int partition_months_ahead = 3;

/// Creates this month's and the next partition_months_ahead months' partitions of deliveries and
/// hotel_demand, and empties the DEFAULT partitions into monthly ones (schema/003). Returns how
/// many partitions it created. Waits at most a few seconds for locks, then throws.
int ensure_partitions(pqxx::connection_base& connection);

/// The highest migration recorded in the database, 0 when none (or no bookkeeping table).
int applied_schema_version(pqxx::connection_base& connection);

}  // namespace esr::db
