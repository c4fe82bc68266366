#pragma once

#include "esr/delivery.hpp"

#include "esr/payload/records.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pqxx {
class connection_base;
class dbtransaction;
}  // namespace pqxx

namespace esr::db {

/// Prepares, on a large-lane connection, the statements below use (besides prepare_typed_statements').
void prepare_large_delivery(pqxx::connection_base& connection);

/// Stores a delivery whose body was not parsed on the network thread (a large one): parses it here
/// in one pass, streaming its demand rows through COPY into hotel_demand, in the transaction that
/// stores the body (hotel_demand_latest follows, by apply_pending_latest below). A
/// body that is not JSON or not its path's kind is kept in rejected_deliveries instead (only when
/// `keep_refused`), and the outcome says why. Database errors propagate to the caller, with
/// `delivery` as it came. No statement timeout applies: the body's parse runs inside the COPY.
///
/// The delivery's row goes last, its body sent by COPY from where it lies (copy_delivery): the body
/// is not copied whole again on its way.
///
/// The rows that cannot stream (a demand delivery's event records, demand rows that are an
/// object's members) go as one statement parameter, and libpq never gives back the send buffer it
/// grew for one: `holds_large_buffers` says when the connection should be closed to free it.
StoreOutcome store_large_delivery(pqxx::connection_base& connection, Delivery& delivery, bool keep_refused,
                                  bool& holds_large_buffers);

/// The typed rows of a stored delivery, derived inside `tx` in one pass over `body`: demand rows
/// streamed through COPY into hotel_demand (DemandCopy, demand_writer.hpp), the rest written as
/// intake writes them. Used by the large lane and by reprocess of a large body alike; their
/// hotel_demand_latest rows follow, by apply_pending_latest.
struct DerivedRows {
    std::optional<payload::Extraction> records;  // empty: refused, as below
    Refusal refused;
    std::size_t largest_parameter = 0;  // write_typed_rows's
};
DerivedRows derive_streaming(pqxx::dbtransaction& tx, std::int64_t delivery_id, const std::string& received_at,
                             std::string_view body, std::optional<Kind> declared, const std::string& path);

/// Brings hotel_demand_latest up to date with the large deliveries committed without it (their
/// latest_pending flag), oldest first, through write_demand_latest (demand_writer.hpp), the one
/// writer every path uses. The large lane runs this right after answering each one,
/// and when it connects, so a crash in between is repaired. A delivery another instance (or a
/// reprocess run) is applying now is left to it (claim_latest_pending.sql): each is applied once.
/// A delivery whose update PostgreSQL refuses stays pending and is left alone for a while (a
/// minute, doubling up to an hour), while the others go on. Returns how many it applied.
std::size_t apply_pending_latest(pqxx::connection_base& connection);

/// Lets apply_pending_latest try delivery `id` at once, should it have been refused: its rows
/// were just derived again.
void retry_latest_now(std::int64_t id);

}  // namespace esr::db
