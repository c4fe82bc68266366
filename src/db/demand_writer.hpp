#pragma once

// The one writer of demand rows, for every path (the small lane's group commits, the large lane,
// the spool's drain through them, reprocess): hotel_demand, from a parsed body (insert_demand.sql)
// or streamed from the parser through COPY (DemandCopy), and hotel_demand_latest from either,
// always through write_demand_latest.sql, so every path chooses the newest row alike.

#include "esr/db/binary_copy.hpp"
#include "esr/payload/extract.hpp"
#include "esr/payload/records.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace pqxx {
class connection_base;
class dbtransaction;
class transaction_base;
}  // namespace pqxx

namespace esr::db {

/// Prepares the statements below on a new connection.
void prepare_demand_writer(pqxx::connection_base& connection);

/// A parsed delivery's demand rows into hotel_demand, then hotel_demand_latest: two statements.
/// Returns the bytes of the rows' JSON, sent as one parameter of each.
std::size_t write_demand(pqxx::transaction_base& tx, std::int64_t delivery_id, const std::string& received_at,
                         const std::vector<payload::DemandRecord>& rows);

/// Demand rows straight from the parser into hotel_demand through a binary COPY, in the delivery's
/// transaction (the large lane). complete() ends the COPY, then gives rows streamed before the
/// envelope named its demandId, hotelCode, city or country those values. hotel_demand_latest is
/// written afterwards, by write_demand_latest.
class DemandCopy final : public payload::DemandRowSink {
public:
    DemandCopy(pqxx::dbtransaction& tx, std::int64_t delivery_id, const std::string& received_at);
    void row(payload::DemandRecord&& r) override;
    /// Ends the COPY. With `late_defaults` (the envelope's values), fills the rows that lacked them.
    void complete(const payload::DemandRecord* late_defaults = nullptr);

private:
    pqxx::transaction_base& tx_;
    std::int64_t delivery_id_;
    std::int64_t observed_at_;  // received_at, as BinaryCopy::add_timestamptz takes it
    BinaryCopy copy_;
    std::size_t missing_envelope_values_ = 0;
    // Per envelope field, the keys under which rows sent a value of their own that could not be
    // used: the late fill leaves those rows alone.
    std::array<std::set<std::string>, 4> unusable_keys_;
};

/// hotel_demand_latest from the rows of delivery `delivery_id` already in hotel_demand: how many
/// rows of it were written (inserted, or replacing a row no newer).
std::size_t write_demand_latest(pqxx::transaction_base& tx, std::int64_t delivery_id, const std::string& received_at);

/// Removes a delivery's demand observations before they are derived again.
void delete_demand(pqxx::transaction_base& tx, std::int64_t delivery_id);

}  // namespace esr::db
