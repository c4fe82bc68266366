#pragma once

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
/// so two daemons migrating at once do not collide. Returns how many were applied.
int migrate(pqxx::connection_base& connection);

/// The highest migration recorded in the database, 0 when none (or no bookkeeping table).
int applied_schema_version(pqxx::connection_base& connection);

}  // namespace esr::db
