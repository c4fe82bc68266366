#pragma once

#include "esr/payload/records.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pqxx {
class connection_base;
class transaction_base;
}  // namespace pqxx

namespace esr::db {

/// Prepares the statements write_typed_rows uses, on a new connection.
void prepare_typed_statements(pqxx::connection_base& connection);

/// Writes the typed rows of one stored delivery inside `tx`. Set-wise: one statement per table,
/// the rows passed as one JSON array. `received_at` is the delivery's, so rows rebuilt later by
/// reprocess carry the same times as the first time. Returns the bytes of the largest parameter
/// sent (libpq keeps a send buffer that size for as long as the connection lives).
std::size_t write_typed_rows(pqxx::transaction_base& tx, std::int64_t delivery_id, const std::string& received_at,
                             const payload::Extraction& records);

/// The rows of one stored delivery, for writing several deliveries' rows at once.
struct DeliveryRows {
    std::int64_t delivery_id;
    std::string received_at;
    const payload::Extraction* records;
};

/// The typed rows of several deliveries (in delivery id order) with one statement per table where
/// the merge rules allow: what group commit writes for a batch. Same result as one by one.
std::size_t write_typed_rows(pqxx::transaction_base& tx, const std::vector<DeliveryRows>& deliveries);

/// Removes the append-only rows a delivery produced (demand observations, demand event records),
/// before it is derived again. Upserted tables need no removal: the merge rules make a repeat a
/// no-op.
void delete_typed_rows(pqxx::transaction_base& tx, std::int64_t delivery_id);

}  // namespace esr::db
