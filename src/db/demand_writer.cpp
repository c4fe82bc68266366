#include "demand_writer.hpp"

#include "array_literal.hpp"
#include "query.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <pqxx/connection_base>
#include <pqxx/transaction_base>

#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>

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

std::size_t write_demand(pqxx::transaction_base& tx, std::int64_t delivery_id, const std::string& received_at,
                         const std::vector<payload::DemandRecord>& rows) {
    if (rows.empty()) return 0;
    const std::string json_rows = demand_json(rows);
    exec_prepared(tx, q::insert_demand, json_rows, received_at, delivery_id);
    exec_prepared(tx, q::write_demand_latest, delivery_id, received_at, json_rows);
    return json_rows.size();
}

DemandCopy::DemandCopy(pqxx::dbtransaction& tx, std::int64_t delivery_id, const std::string& received_at)
    : tx_(tx),
      delivery_id_(delivery_id),
      observed_at_(BinaryCopy::timestamptz_microseconds(tx, received_at)),
      copy_(tx, "eventsshop.hotel_demand",
            {"delivery_id", "observed_at", "demand_id", "hotel_code", "hotel_name", "city", "country", "stay_date",
             "absolute_demand", "relative_demand", "events_registered", "extra"}) {}

void DemandCopy::row(payload::DemandRecord&& r) {
    if (!r.demand_id || !r.hotel_code || !r.city || !r.country) ++missing_envelope_values_;
    for (const auto& [field, key] : r.unusable_own) unusable_keys_[static_cast<std::size_t>(field)].insert(key);
    auto add = [this](const auto& v, auto adder) { v ? std::invoke(adder, copy_, *v) : copy_.add_null(); };
    copy_.begin_row(12);
    copy_.add_bigint(delivery_id_);
    copy_.add_timestamptz(observed_at_);
    add(r.demand_id, &BinaryCopy::add_bigint);
    for (const auto* text : {&r.hotel_code, &r.hotel_name, &r.city, &r.country}) add(*text, &BinaryCopy::add_text);
    add(r.stay_date, &BinaryCopy::add_date);
    add(r.absolute_demand, &BinaryCopy::add_bigint);
    add(r.relative_demand, &BinaryCopy::add_double);
    add(r.events_registered, [](BinaryCopy& c, std::int64_t v) {
        // The parser keeps it within the column's integer (vendor_fields: integer32).
        if (v < std::numeric_limits<std::int32_t>::min() || v > std::numeric_limits<std::int32_t>::max())
            throw std::logic_error("eventsRegistered outside integer reached the COPY");
        c.add_integer(static_cast<std::int32_t>(v));
    });
    r.extra.empty() ? copy_.add_null() : copy_.add_jsonb(json::serialize(r.extra));
}

void DemandCopy::complete(const payload::DemandRecord* late) {
    copy_.complete();
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

std::size_t write_demand_latest(pqxx::transaction_base& tx, std::int64_t delivery_id, const std::string& received_at) {
    return exec_prepared(tx, q::write_demand_latest, delivery_id, received_at, nullptr).affected_rows();
}

void delete_demand(pqxx::transaction_base& tx, std::int64_t delivery_id) {
    exec_prepared(tx, q::delete_demand_rows, delivery_id);
}

}  // namespace esr::db
