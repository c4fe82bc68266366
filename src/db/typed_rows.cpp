#include "typed_rows.hpp"

#include "array_literal.hpp"
#include "demand_writer.hpp"
#include "query.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <pqxx/connection_base>
#include <pqxx/nontransaction>
#include <pqxx/stream_to>
#include <pqxx/transaction_base>

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

namespace esr::db {
namespace {

namespace json = boost::json;

// The stage table of create_impacts_stage.sql, and the columns COPY fills, in the order the rows
// below give them.
constexpr const char* impacts_stage = "pg_temp.esr_impacts_stage";
const std::vector<std::string> impacts_stage_columns{"event_id", "impact_date", "impact_score", "delivery_id",
                                                     "received_at"};

template <class T>
json::value opt(const std::optional<T>& v) {
    return v ? json::value(*v) : json::value(nullptr);
}

json::value extra_or_null(const json::object& extra) { return extra.empty() ? json::value(nullptr) : json::value(extra); }

// upsert_events.sql's parameters: one array per column of its rows, in its order.
struct EventColumns {
    ArrayLiteral event_id, name, category, sub_category, description, start_date, end_date, estimated_attendee,
        attendee_min, attendee_max, venue, address, city, state, zip, country, region, lat, lng, status_code, extra,
        seen_at, last_delivery_id;
    std::size_t rows = 0, bytes = 0;
    std::optional<std::int64_t> last_event_id;
    bool repeats = false;  // an event mentioned twice (rows come in event id order)

    void add(const payload::EventRecord& e, const DeliveryRows& d) {
        repeats = repeats || last_event_id == e.event_id;
        last_event_id = e.event_id;
        event_id.add(e.event_id);
        for (auto [column, value] : {std::pair{&name, &e.name}, {&category, &e.category},
                                     {&sub_category, &e.sub_category}, {&description, &e.description},
                                     {&start_date, &e.start_date}, {&end_date, &e.end_date},
                                     {&estimated_attendee, &e.estimated_attendee}, {&venue, &e.venue},
                                     {&address, &e.address}, {&city, &e.city}, {&state, &e.state}, {&zip, &e.zip},
                                     {&country, &e.country}, {&region, &e.region}}) {
            column->add(*value);
            if (*value) bytes += (*value)->size();
        }
        attendee_min.add(e.attendee_min);
        attendee_max.add(e.attendee_max);
        lat.add(e.lat);
        lng.add(e.lng);
        status_code.add(e.status_code);
        if (e.extra.empty()) {
            extra.add_null();
        } else {
            const std::string serialized = json::serialize(e.extra);
            extra.add(serialized);
            bytes += serialized.size();
        }
        seen_at.add(d.received_at);
        last_delivery_id.add(d.delivery_id);
        ++rows;
        bytes += 128;  // the numbers, dates and separators, roughly
    }

    void upsert(pqxx::transaction_base& tx) && {
        exec_prepared(tx, repeats ? q::upsert_events : q::upsert_distinct_events, std::move(event_id).str(), std::move(name).str(),
                      std::move(category).str(), std::move(sub_category).str(), std::move(description).str(),
                      std::move(start_date).str(), std::move(end_date).str(), std::move(estimated_attendee).str(),
                      std::move(attendee_min).str(), std::move(attendee_max).str(), std::move(venue).str(),
                      std::move(address).str(), std::move(city).str(), std::move(state).str(),
                      std::move(zip).str(), std::move(country).str(), std::move(region).str(),
                      std::move(lat).str(), std::move(lng).str(), std::move(status_code).str(),
                      std::move(extra).str(), std::move(seen_at).str(), std::move(last_delivery_id).str());
    }
};

// Every mention of an event in the deliveries, one row per event and delivery (a body's own
// repeats of an event are merged by the extraction): upsert_events.sql takes each field from the
// highest delivery id that gave it, so it must know which delivery gave which value. Merging the
// deliveries here would credit every value to the batch's last delivery, and a delivery with an id
// in between, committed by another writer, would then lose to values older than its own.
// The rows go as arrays in the statement itself (one round trip; a COPY into a stage took two
// more), about 256 KiB per statement so a large delivery's events are never all in text at once
// (with a MiB, the text and libpq's copy of it took 20 MB of events 2 MB past its memory target). The
// merge is per field and per delivery id, so statements may split a batch anywhere; in event id
// order, so concurrent batches lock rows in one order and wait rather than deadlock.
void upsert_events(pqxx::transaction_base& tx, const std::vector<DeliveryRows>& deliveries) {
    constexpr std::size_t bytes_per_statement = 256 << 10;
    std::vector<std::pair<const payload::EventRecord*, const DeliveryRows*>> mentions;
    for (const auto& d : deliveries)
        for (const auto& e : d.records->events) mentions.emplace_back(&e, &d);
    std::stable_sort(mentions.begin(), mentions.end(),
                     [](const auto& a, const auto& b) { return a.first->event_id < b.first->event_id; });
    EventColumns columns;
    for (const auto& [e, d] : mentions) {
        columns.add(*e, *d);
        if (columns.bytes >= bytes_per_statement) {
            std::move(columns).upsert(tx);
            columns = EventColumns{};
        }
    }
    if (columns.rows) std::move(columns).upsert(tx);
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
        tx.exec(q::create_impacts_stage.text);
    }
    prepare(c, q::upsert_events);
    prepare(c, q::upsert_distinct_events);
    prepare(c, q::upsert_impacts);
    prepare_demand_writer(c);
    prepare(c, q::insert_demand_events);
    prepare(c, q::delete_demand_event_records);
}

std::size_t write_typed_rows(pqxx::transaction_base& tx, const std::vector<DeliveryRows>& deliveries) {
    bool events = false, impacts = false;
    std::size_t largest_parameter = 0;
    for (const auto& d : deliveries) {
        events = events || !d.records->events.empty();
        impacts = impacts || !d.records->impacts.empty();
        const auto& r = *d.records;
        largest_parameter = std::max(largest_parameter, write_demand(tx, d.delivery_id, d.received_at, r.demand));
        if (!r.demand_events.empty()) {
            const std::string json_records = demand_events_json(r.demand_events);
            exec_prepared(tx, q::insert_demand_events, json_records, d.delivery_id);
            largest_parameter = std::max(largest_parameter, json_records.size());
        }
    }
    if (events) upsert_events(tx, deliveries);
    if (impacts) {
        stage_impacts(tx, deliveries);
        exec_prepared(tx, q::upsert_impacts);
    }
    return largest_parameter;  // upsert_events splits its rows; stage_impacts streams them
}

std::size_t write_typed_rows(pqxx::transaction_base& tx, std::int64_t delivery_id, const std::string& received_at,
                             const payload::Extraction& records) {
    return write_typed_rows(tx, {DeliveryRows{delivery_id, received_at, &records}});
}

void delete_typed_rows(pqxx::transaction_base& tx, std::int64_t delivery_id) {
    delete_demand(tx, delivery_id);
    exec_prepared(tx, q::delete_demand_event_records, delivery_id);
}

}  // namespace esr::db
