#pragma once

// The deliveries and rejected_deliveries rows, shared by the batch and large-delivery paths.

#include "esr/delivery.hpp"

#include <cstdint>
#include <exception>
#include <map>
#include <vector>
#include <optional>
#include <string>

namespace pqxx {
class connection_base;
class dbtransaction;
class transaction_base;
}  // namespace pqxx

namespace esr::db {

void prepare_delivery_statements(pqxx::connection_base& connection);

struct InsertedDelivery {
    std::int64_t id;
    std::string received_at;
};

struct NewDelivery {
    const Delivery* delivery;
    Kind kind;
    std::int64_t record_count;
    std::string classification;
};

/// Inserts several deliveries with one prepared statement (per 64 MiB of bodies). The result maps the body digest
/// of each one inserted; those already stored are absent. Bodies must be distinct.
std::map<std::string, InsertedDelivery> insert_deliveries(pqxx::transaction_base& tx,
                                                          const std::vector<NewDelivery>& deliveries);

/// One delivery in two steps, for a body that may be large (the large lane, a body stored alone):
/// claim_digest claims its digest and id, nothing when the same body is stored already (or another
/// session stores it now: the claim waits for that session's end); copy_delivery then writes its
/// row, in the same transaction, by a binary COPY that sends the body from where it lies in pieces
/// of at most 1 MiB, rather than as one parameter libpqxx and libpq would each copy whole (and libpq
/// would keep a send buffer of its size for as long as the connection lives).
std::optional<InsertedDelivery> claim_digest(pqxx::transaction_base& tx, const Delivery& d);
void copy_delivery(pqxx::dbtransaction& tx, const InsertedDelivery& claimed, const Delivery& d, Kind kind,
                   std::int64_t record_count, const std::string& classification, bool latest_pending);

/// The stored delivery with this body's hash, as a duplicate outcome; nothing if there is none.
std::optional<StoreOutcome> find_duplicate(pqxx::transaction_base& tx, const Delivery& d);

/// When claim_digest found the digest taken (another writer stored the same body meanwhile; the
/// caller's transaction is aborted): that delivery, as a duplicate, read in a transaction of its own.
StoreOutcome stored_meanwhile(pqxx::connection_base& c, const Delivery& d);

/// Whether `error` says a digest claim drew a delivery id that names a stored delivery already
/// (delivery_digests_delivery_id_key): eventsshop.delivery_ids is behind, not the body at fault.
bool is_delivery_id_clash(const std::exception& error);

/// Moves eventsshop.delivery_ids past every delivery id claimed, in a transaction of its own on
/// `connection` (none may be open there). Returns the last id taken.
std::int64_t repair_delivery_ids(pqxx::connection_base& connection);

/// Keeps a refused body (first 1 MiB) with the reason.
std::int64_t insert_rejected(pqxx::transaction_base& tx, const Delivery& d, const std::string& reason);

}  // namespace esr::db
