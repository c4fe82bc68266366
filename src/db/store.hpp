#pragma once

// The one routine that writes deliveries to PostgreSQL: the small lane's group commits, the large
// lane, the spool's drain. What it promises is what "acknowledged means stored" rests on.

#include "esr/delivery.hpp"

#include <span>
#include <vector>

namespace pqxx {
class connection_base;
}

namespace esr::db {

/// Prepares, on a new connection, every statement and stage table store() uses.
void prepare_store(pqxx::connection_base& connection);

struct StoreResult {
    std::vector<StoreOutcome> outcomes;  // one per delivery, in order
    bool connection_lost = false;        // the connection is unusable now: reconnect
    bool holds_large_buffers = false;    // libpq grew buffers for a large delivery's statement: reconnect to free them
};

/// What a refused body becomes: live intake keeps it in rejected_deliveries for diagnosis (the
/// sender is told 400); the drain must not (it was acknowledged: the caller quarantines it).
enum class Refused { keep_in_database, only_report };

/// Stores `deliveries` and says what became of each, never throwing for a delivery's fault:
/// - all in one transaction first; if that fails and the connection is alive, each one alone, so
///   one bad delivery never fails the others;
/// - a delivery whose typed rows cannot be written is stored with its body alone (its kind kept,
///   record_count 0, the reason in `classification`, to be rebuilt by `reprocess`), in every lane;
/// - a connection lost at any statement (COPY included), an unknown commit outcome, a transient
///   error (overload, deadlock, shutdown) or a database that takes no writes (read-only after a
///   failover, privileges, a statement timeout even for the body alone) leaves every delivery not
///   yet committed `unavailable`, for the caller to spool or answer 503 (and the drain to pause):
///   never `failed` for a delivery that did nothing wrong;
/// - an id drawn from eventsshop.delivery_ids that a stored delivery has (the sequence set back by
///   a restore or a switchover) is not the delivery's fault: the sequence is moved past the stored
///   ids (logged) and the same attempt runs again, twice at most; then it is `unavailable`;
/// - `failed` only when the database refused even the body alone for its data (a data exception,
///   a constraint, a trigger): the drain quarantines it, live intake answers 500;
/// - a body found invalid (large ones are parsed here) is `rejected`.
/// Large deliveries (`unparsed`) are stored one at a time, streaming, without a statement timeout
/// (their parse happens inside the COPY).
StoreResult store(pqxx::connection_base& connection, std::span<Delivery> deliveries,
                  Refused refused = Refused::keep_in_database);

}  // namespace esr::db
