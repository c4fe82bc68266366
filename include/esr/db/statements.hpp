#pragma once

// Every SQL statement the daemon runs, named once. Tables are created by schema/*.sql.
namespace esr::db::sql {

inline constexpr const char* insert_delivery =
    "INSERT INTO eventsshop.deliveries (kind, body, body_sha256, byte_size, remote_addr, principal) "
    "VALUES ($1, $2, $3, $4, $5::inet, $6) "
    "ON CONFLICT (body_sha256) DO NOTHING RETURNING id";

inline constexpr const char* find_delivery_by_hash =
    "SELECT id, kind FROM eventsshop.deliveries WHERE body_sha256 = $1";

inline constexpr const char* applied_schema_version =
    "SELECT coalesce(max(version), 0) FROM eventsshop.schema_migrations";

inline constexpr const char* schema_migrations_exists =
    "SELECT to_regclass('eventsshop.schema_migrations') IS NOT NULL";

}  // namespace esr::db::sql
