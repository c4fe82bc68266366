#include "typed_rows.hpp"

#include "demand_writer.hpp"
#include "query.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <pqxx/connection_base>
#include <pqxx/nontransaction>
#include <pqxx/stream_to>
#include <pqxx/transaction_base>

#include <map>
#include <vector>

namespace esr::db {
namespace {

namespace json = boost::json;

// The stage tables of create_events_stage.sql and create_impacts_stage.sql, and the columns COPY
// fills, in the order the rows below give them.
constexpr const char* events_stage = "pg_temp.esr_events_stage";
const std::vector<std::string> events_stage_columns{
    "event_id", "name", "category", "sub_category", "description", "start_date", "end_date",
    "estimated_attendee", "attendee_min", "attendee_max", "venue", "address", "city", "state", "zip",
    "country", "region", "lat", "lng", "status_code", "extra", "first_seen_at", "last_seen_at",
    "last_delivery_id"};
constexpr const char* impacts_stage = "pg_temp.esr_impacts_stage";
const std::vector<std::string> impacts_stage_columns{"event_id", "impact_date", "impact_score", "delivery_id",
                                                     "received_at"};

template <class T>
json::value opt(const std::optional<T>& v) {
    return v ? json::value(*v) : json::value(nullptr);
}

json::value extra_or_null(const json::object& extra) { return extra.empty() ? json::value(nullptr) : json::value(extra); }

// Every mention of an event in the deliveries, one stage row per event and delivery (a body's own
// repeats of an event are merged by the extraction): upsert_events.sql takes each field from the
// highest delivery id that gave it, so it must know which delivery gave which value. Merging the
// deliveries here would credit every value to the batch's last delivery, and a delivery with an id
// in between, committed by another writer, would then lose to values older than its own.
void stage_events(pqxx::transaction_base& tx, const std::vector<DeliveryRows>& deliveries) {
    pqxx::stream_to stage(tx, events_stage, events_stage_columns);
    for (const auto& d : deliveries) {
        for (const auto& e : d.records->events) {
            std::optional<std::string> extra;
            if (!e.extra.empty()) extra = json::serialize(e.extra);
            // In the order of events_stage_columns; references, so no field is copied on the way.
            stage << std::forward_as_tuple(e.event_id, e.name, e.category, e.sub_category, e.description,
                                           e.start_date, e.end_date, e.estimated_attendee, e.attendee_min,
                                           e.attendee_max, e.venue, e.address, e.city, e.state, e.zip, e.country,
                                           e.region, e.lat, e.lng, e.status_code, extra, d.received_at,
                                           d.received_at, d.delivery_id);
        }
    }
    stage.complete();
}

// The last delivery's score per (event, day) wins, as consecutive upserts would have it.
void stage_impacts(pqxx::transaction_base& tx, const std::vector<DeliveryRows>& deliveries) {
    std::map<std::pair<std::int64_t, std::string_view>, std::pair<const payload::ImpactRecord*, const DeliveryRows*>>
        last;
    for (const auto& d : deliveries)
        for (const auto& i : d.records->impacts) last[{i.event_id, i.impact_date}] = {&i, &d};
    pqxx::stream_to stage(tx, impacts_stage, impacts_stage_columns);
    for (const auto& [key, value] : last) {
        const auto& [i, d] = value;
        stage << std::forward_as_tuple(i->event_id, i->impact_date, i->impact_score, d->delivery_id, d->received_at);
    }
    stage.complete();
}

std::string demand_events_json(const std::vector<payload::DemandEventRecord>& records) {
    json::array rows;
    rows.reserve(records.size());
    for (const auto& r : records)
        rows.push_back(json::object{
            {"demand_id", opt(r.demand_id)},   {"event_id", opt(r.event_id)},
            {"event_name", opt(r.event_name)}, {"venue", opt(r.venue)},
            {"category", opt(r.category)},     {"event_date", opt(r.event_date)},
            {"estimated_attendee", opt(r.estimated_attendee)}, {"attendee_min", opt(r.attendee_min)},
            {"attendee_max", opt(r.attendee_max)}, {"extra", extra_or_null(r.extra)},
        });
    return json::serialize(rows);
}

}  // namespace

void prepare_typed_statements(pqxx::connection_base& c) {
    {
        pqxx::nontransaction tx(c);
        tx.exec(q::create_events_stage.text);
        tx.exec(q::create_impacts_stage.text);
    }
    prepare(c, q::upsert_events);
    prepare(c, q::upsert_impacts);
    prepare_demand_writer(c);
    prepare(c, q::insert_demand_events);
    prepare(c, q::delete_demand_event_records);
}

void write_typed_rows(pqxx::transaction_base& tx, const std::vector<DeliveryRows>& deliveries) {
    bool events = false, impacts = false;
    for (const auto& d : deliveries) {
        events = events || !d.records->events.empty();
        impacts = impacts || !d.records->impacts.empty();
        const auto& r = *d.records;
        write_demand(tx, d.delivery_id, d.received_at, r.demand);
        if (!r.demand_events.empty())
            exec_prepared(tx, q::insert_demand_events, demand_events_json(r.demand_events), d.delivery_id);
    }
    if (events) {
        stage_events(tx, deliveries);
        exec_prepared(tx, q::upsert_events);
    }
    if (impacts) {
        stage_impacts(tx, deliveries);
        exec_prepared(tx, q::upsert_impacts);
    }
}

void write_typed_rows(pqxx::transaction_base& tx, std::int64_t delivery_id, const std::string& received_at,
                      const payload::Extraction& records) {
    write_typed_rows(tx, {DeliveryRows{delivery_id, received_at, &records}});
}

void delete_typed_rows(pqxx::transaction_base& tx, std::int64_t delivery_id) {
    delete_demand(tx, delivery_id);
    exec_prepared(tx, q::delete_demand_event_records, delivery_id);
}

}  // namespace esr::db
