#pragma once

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
/// so two daemons migrating at once do not collide. Returns how many were applied. Stops after
/// version `up_to` (tests build an old schema with it). Once the schema has partitions (version 3),
/// makes sure the coming months' exist (ensure_partitions).
int migrate(pqxx::connection_base& connection, int up_to = std::numeric_limits<int>::max());

/// How many months past this one have their partitions made ahead of need.
inline constexpr int partition_months_ahead = 3;

/// Creates this month's and the next partition_months_ahead months' partitions of deliveries and
/// hotel_demand, and empties the DEFAULT partitions into monthly ones (schema/003). Returns how
/// many partitions it created. Waits at most a few seconds for locks, then throws.
int ensure_partitions(pqxx::connection_base& connection);

/// The highest migration recorded in the database, 0 when none (or no bookkeeping table).
int applied_schema_version(pqxx::connection_base& connection);

}  // namespace esr::db
