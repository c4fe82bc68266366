#include "demand_writer.hpp"

#include "array_literal.hpp"
#include "query.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <pqxx/connection_base>
#include <pqxx/transaction_base>

#include <optional>

namespace esr::db {
namespace {

namespace json = boost::json;

template <class T>
json::value opt(const std::optional<T>& v) {
    return v ? json::value(*v) : json::value(nullptr);
}

// One JSON array for both statements of write_demand: all the rows, in the body's order.
std::string demand_json(const std::vector<payload::DemandRecord>& demand) {
    json::array rows;
    rows.reserve(demand.size());
    for (const auto& d : demand)
        rows.push_back(json::object{
            {"demand_id", opt(d.demand_id)},   {"hotel_code", opt(d.hotel_code)},
            {"hotel_name", opt(d.hotel_name)}, {"city", opt(d.city)},
            {"country", opt(d.country)},       {"stay_date", opt(d.stay_date)},
            {"absolute_demand", opt(d.absolute_demand)}, {"relative_demand", opt(d.relative_demand)},
            {"events_registered", opt(d.events_registered)},
            {"extra", d.extra.empty() ? json::value(nullptr) : json::value(d.extra)},
        });
    return json::serialize(rows);
}

std::string text_or_empty(const std::optional<std::string>& v) { return v.value_or(""); }

}  // namespace

void prepare_demand_writer(pqxx::connection_base& c) {
    for (const auto* query : {&q::insert_demand, &q::write_demand_latest, &q::fill_late_envelope_defaults,
                              &q::delete_demand_rows})
        prepare(c, *query);
}

void write_demand(pqxx::transaction_base& tx, std::int64_t delivery_id, const std::string& received_at,
                  const std::vector<payload::DemandRecord>& rows) {
    if (rows.empty()) return;
    const std::string json_rows = demand_json(rows);
    exec_prepared(tx, q::insert_demand, json_rows, received_at, delivery_id);
    exec_prepared(tx, q::write_demand_latest, delivery_id, received_at, json_rows);
}

DemandCopy::DemandCopy(pqxx::transaction_base& tx, std::int64_t delivery_id, std::string received_at)
    : tx_(tx),
      stream_(tx, "eventsshop.hotel_demand",
              std::vector<std::string>{"delivery_id", "observed_at", "demand_id", "hotel_code", "hotel_name", "city",
                                       "country", "stay_date", "absolute_demand", "relative_demand",
                                       "events_registered", "extra"}),
      delivery_id_(delivery_id),
      received_at_(std::move(received_at)) {}

void DemandCopy::row(payload::DemandRecord&& r) {
    std::optional<std::string> extra;
    if (!r.extra.empty()) extra = json::serialize(r.extra);
    if (!r.demand_id || !r.hotel_code || !r.city || !r.country) ++missing_envelope_values_;
    for (const auto& [field, key] : r.unusable_own) unusable_keys_[static_cast<std::size_t>(field)].insert(key);
    row_.clear();
    row_.add(delivery_id_);
    row_.add(received_at_);
    row_.add(r.demand_id);
    for (const auto* text : {&r.hotel_code, &r.hotel_name, &r.city, &r.country, &r.stay_date}) row_.add(*text);
    row_.add(r.absolute_demand);
    row_.add(r.relative_demand);
    row_.add(r.events_registered);
    row_.add(extra);
    stream_ << std::tie(row_);
}

void DemandCopy::complete(const payload::DemandRecord* late) {
    stream_.complete();
    if (!late || missing_envelope_values_ == 0) return;
    if (!late->demand_id && !late->hotel_code && !late->city && !late->country) return;
    std::array<std::string, 4> unusable;
    for (std::size_t f = 0; f < unusable.size(); ++f) {
        ArrayLiteral keys;
        for (const auto& key : unusable_keys_[f]) keys.add(key);
        unusable[f] = std::move(keys).str();
    }
    exec_prepared(tx_, q::fill_late_envelope_defaults, delivery_id_,
                  late->demand_id ? std::to_string(*late->demand_id) : std::string(), text_or_empty(late->hotel_code),
                  text_or_empty(late->city), text_or_empty(late->country), unusable[0], unusable[1], unusable[2],
                  unusable[3]);
}

void write_demand_latest(pqxx::transaction_base& tx, std::int64_t delivery_id, const std::string& received_at) {
    exec_prepared(tx, q::write_demand_latest, delivery_id, received_at, nullptr);
}

void delete_demand(pqxx::transaction_base& tx, std::int64_t delivery_id) {
    exec_prepared(tx, q::delete_demand_rows, delivery_id);
}

}  // namespace esr::db
