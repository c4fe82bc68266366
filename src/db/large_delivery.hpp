#pragma once

#include "esr/delivery.hpp"

namespace pqxx {
class connection_base;
}

namespace esr::db {

/// Sets up, on a large-lane connection, the session's staging table and statements.
void prepare_large_delivery(pqxx::connection_base& connection);

/// Stores a delivery whose body was not parsed on the network thread (a large one): parses it here
/// in one pass, streaming its demand rows through COPY into a staging table, then moves them into
/// hotel_demand and hotel_demand_latest set-wise, all in the transaction that stores the body. A
/// body that is not JSON or not its path's kind is kept in rejected_deliveries instead, and the
/// outcome says why. Database errors propagate to the caller, with `delivery` as it came.
///
/// The body is sent last, after our copy of it is released: so at most two copies exist at once
/// (libpqxx's parameter and libpq's send buffer), not three.
StoreOutcome store_large_delivery(pqxx::connection_base& connection, Delivery& delivery);

/// Brings hotel_demand_latest up to date with the large deliveries committed without it (their
/// latest_pending flag), oldest first. The large lane runs this right after answering each one,
/// and when it connects, so a crash in between is repaired. Returns how many it applied.
std::size_t apply_pending_latest(pqxx::connection_base& connection);

}  // namespace esr::db
