#pragma once

// Every SQL statement the daemon runs, named once. Tables are created by schema/*.sql.
namespace esr::db::sql {

inline constexpr const char* insert_delivery =
    "INSERT INTO eventsshop.deliveries (kind, body, body_sha256, byte_size, remote_addr, principal, record_count, "
    "declared_kind, classification) "
    "VALUES ($1, $2, $3, $4, NULLIF($5, '')::inet, $6, $7, NULLIF($8, ''), $9) "
    "ON CONFLICT (body_sha256) DO NOTHING RETURNING id, received_at::text";

// A batch in one prepared statement, whatever its size: the bodies and digests travel as two binary
// blobs (no escaping, no parsing), the other columns as arrays; one plan serves every batch.
inline constexpr const char* insert_delivery_batch =
    "INSERT INTO eventsshop.deliveries (kind, body, body_sha256, byte_size, remote_addr, principal, record_count, "
    "declared_kind, classification) "
    "SELECT r.kind, substring($1::bytea FROM r.body_at FOR r.byte_size::integer), "
    "substring($2::bytea FROM r.n::integer * 32 - 31 FOR 32), r.byte_size, r.remote_addr, r.principal, "
    "r.record_count, r.declared_kind, r.classification "
    "FROM unnest($3::text[], $4::integer[], $5::bigint[], $6::inet[], $7::text[], $8::integer[], $9::text[], "
    "$10::text[]) WITH ORDINALITY "
    "AS r(kind, body_at, byte_size, remote_addr, principal, record_count, declared_kind, classification, n) "
    "ORDER BY r.n "
    "ON CONFLICT (body_sha256) DO NOTHING RETURNING id, received_at::text, body_sha256";

inline constexpr const char* find_delivery_by_hash =
    "SELECT id, kind, record_count FROM eventsshop.deliveries WHERE body_sha256 = $1";

inline constexpr const char* insert_rejected_delivery =
    "INSERT INTO eventsshop.rejected_deliveries (remote_addr, principal, path, byte_size, body_sha256, body, "
    "body_truncated, error) VALUES (NULLIF($1, '')::inet, $2, $3, $4, $5, $6, $7, $8) RETURNING id";

inline constexpr const char* applied_schema_version =
    "SELECT coalesce(max(version), 0) FROM eventsshop.schema_migrations";

inline constexpr const char* schema_migrations_exists =
    "SELECT to_regclass('eventsshop.schema_migrations') IS NOT NULL";

}  // namespace esr::db::sql
