#include "esr/db/typed_rows.hpp"

#include "esr/payload/extract.hpp"

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

struct Column {
    const char* name;
    const char* type;
};

// events columns besides the key, extra and bookkeeping; all merged by the same rule.
const std::vector<Column> event_columns{
    {"name", "text"},          {"category", "text"},          {"sub_category", "text"},
    {"description", "text"},   {"start_date", "date"},        {"end_date", "date"},
    {"estimated_attendee", "text"}, {"attendee_min", "bigint"}, {"attendee_max", "bigint"},
    {"venue", "text"},         {"address", "text"},           {"city", "text"},
    {"state", "text"},         {"zip", "text"},               {"country", "text"},
    {"region", "text"},        {"lat", "double precision"},   {"lng", "double precision"},
    {"status_code", "integer"},
};

std::string joined(const std::vector<Column>& cols, const std::string& prefix, bool with_type = false) {
    std::string out;
    for (const auto& c : cols) {
        if (!out.empty()) out += ", ";
        out += prefix + c.name;
        if (with_type) out += std::string(" ") + c.type;
    }
    return out;
}

// Events and impacts reach PostgreSQL through COPY into a per-session stage table and one INSERT ... SELECT
// from it: COPY's text format is parsed several times faster than json_to_recordset, which also
// makes PostgreSQL validate the JSON once more on the way in. The stage empties at every commit.
constexpr const char* events_stage = "pg_temp.esr_events_stage";

std::string create_events_stage_sql() {
    return std::string("CREATE TEMP TABLE IF NOT EXISTS esr_events_stage (event_id bigint, ") +
           joined(event_columns, "", true) +
           ", extra jsonb, first_seen_at timestamptz, last_seen_at timestamptz, last_delivery_id bigint) "
           "ON COMMIT DELETE ROWS";
}

std::vector<std::string> events_stage_columns() {
    std::vector<std::string> cols{"event_id"};
    for (const auto& c : event_columns) cols.emplace_back(c.name);
    cols.insert(cols.end(), {"extra", "first_seen_at", "last_seen_at", "last_delivery_id"});
    return cols;
}

// A later delivery's known values win; its missing ones never erase what an earlier one said.
// Reprocessing in any order gives the same row, because "later" is the delivery id.
std::string upsert_events_sql() {
    // Taking the rows out of the stage as they are read keeps it empty for the next batch of the
    // same transaction (reprocess writes many); the commit truncates what is left.
    std::string sql = std::string("WITH r AS (DELETE FROM ") + events_stage + " RETURNING *) "
                      "INSERT INTO eventsshop.events AS e (event_id, " + joined(event_columns, "") +
                      ", extra, first_seen_at, last_seen_at, last_delivery_id) "
                      "SELECT r.event_id, " + joined(event_columns, "r.") +
                      ", coalesce(r.extra, '{}'::jsonb), r.first_seen_at, r.last_seen_at, r.last_delivery_id "
                      "FROM r ON CONFLICT (event_id) DO UPDATE SET ";
    const std::string newer = "EXCLUDED.last_delivery_id >= e.last_delivery_id";
    for (const auto& c : event_columns) {
        std::string n = c.name;
        sql += n + " = CASE WHEN " + newer + " THEN coalesce(EXCLUDED." + n + ", e." + n + ") ELSE coalesce(e." + n +
               ", EXCLUDED." + n + ") END, ";
    }
    sql += "extra = CASE WHEN " + newer + " THEN e.extra || EXCLUDED.extra ELSE EXCLUDED.extra || e.extra END, "
           "first_seen_at = least(e.first_seen_at, EXCLUDED.first_seen_at), "
           "last_seen_at = greatest(e.last_seen_at, EXCLUDED.last_seen_at), "
           "last_delivery_id = greatest(e.last_delivery_id, EXCLUDED.last_delivery_id)";
    return sql;
}

constexpr const char* impacts_stage = "pg_temp.esr_impacts_stage";

constexpr const char* create_impacts_stage_sql =
    "CREATE TEMP TABLE IF NOT EXISTS esr_impacts_stage (event_id bigint, impact_date date, "
    "impact_score double precision, delivery_id bigint, received_at timestamptz) ON COMMIT DELETE ROWS";

constexpr const char* upsert_impacts_sql =
    "WITH r AS (DELETE FROM pg_temp.esr_impacts_stage RETURNING *) "
    "INSERT INTO eventsshop.event_impacts AS i (event_id, impact_date, impact_score, delivery_id, received_at) "
    "SELECT r.event_id, r.impact_date, r.impact_score, r.delivery_id, r.received_at FROM r "
    "ON CONFLICT (event_id, impact_date) DO UPDATE SET impact_score = EXCLUDED.impact_score, "
    "delivery_id = EXCLUDED.delivery_id, received_at = EXCLUDED.received_at "
    "WHERE EXCLUDED.delivery_id >= i.delivery_id";

constexpr const char* demand_recordset =
    "FROM json_to_recordset($1::json) AS r(demand_id bigint, hotel_code text, hotel_name text, city text, "
    "country text, stay_date date, absolute_demand bigint, relative_demand double precision, "
    "events_registered integer, extra jsonb) ";

std::string insert_demand_sql() {
    return std::string("INSERT INTO eventsshop.hotel_demand (delivery_id, observed_at, demand_id, hotel_code, "
                       "hotel_name, city, country, stay_date, absolute_demand, relative_demand, events_registered, "
                       "extra) SELECT $3::bigint, $2::timestamptz, r.demand_id, r.hotel_code, r.hotel_name, r.city, "
                       "r.country, r.stay_date, r.absolute_demand, r.relative_demand, r.events_registered, r.extra ") +
           demand_recordset;
}

// One row per (hotel, day): the newest observation. The rows of one delivery are unique per key
// (the caller keeps the last), as ON CONFLICT cannot touch a row twice in one statement.
std::string upsert_demand_latest_sql() {
    return std::string("INSERT INTO eventsshop.hotel_demand_latest AS l (hotel_code, stay_date, demand_id, "
                       "hotel_name, city, country, absolute_demand, relative_demand, events_registered, observed_at, "
                       "delivery_id) SELECT r.hotel_code, r.stay_date, r.demand_id, r.hotel_name, r.city, r.country, "
                       "r.absolute_demand, r.relative_demand, r.events_registered, $2::timestamptz, $3::bigint ") +
           demand_recordset +
           "WHERE r.hotel_code IS NOT NULL AND r.stay_date IS NOT NULL "
           "ON CONFLICT (hotel_code, stay_date) DO UPDATE SET demand_id = EXCLUDED.demand_id, "
           "hotel_name = EXCLUDED.hotel_name, city = EXCLUDED.city, country = EXCLUDED.country, "
           "absolute_demand = EXCLUDED.absolute_demand, relative_demand = EXCLUDED.relative_demand, "
           "events_registered = EXCLUDED.events_registered, observed_at = EXCLUDED.observed_at, "
           "delivery_id = EXCLUDED.delivery_id "
           "WHERE (EXCLUDED.observed_at, EXCLUDED.delivery_id) >= (l.observed_at, l.delivery_id)";
}

constexpr const char* insert_demand_events_sql =
    "INSERT INTO eventsshop.demand_event_records (delivery_id, demand_id, event_id, event_name, venue, category, "
    "event_date, estimated_attendee, attendee_min, attendee_max, extra) "
    "SELECT $2::bigint, r.demand_id, r.event_id, r.event_name, r.venue, r.category, r.event_date, "
    "r.estimated_attendee, r.attendee_min, r.attendee_max, r.extra "
    "FROM json_to_recordset($1::json) AS r(demand_id bigint, event_id bigint, event_name text, venue text, "
    "category text, event_date date, estimated_attendee text, attendee_min bigint, attendee_max bigint, extra jsonb)";

template <class T>
json::value opt(const std::optional<T>& v) {
    return v ? json::value(*v) : json::value(nullptr);
}

json::value extra_or_null(const json::object& extra) { return extra.empty() ? json::value(nullptr) : json::value(extra); }

struct MergedEvent {
    const payload::EventRecord* record;       // the only mention in the batch, not copied
    std::optional<payload::EventRecord> merged;  // or the merge of several mentions
    const std::string* first_seen_at;
    const std::string* last_seen_at;
    std::int64_t last_delivery_id;
    const payload::EventRecord& get() const { return merged ? *merged : *record; }
};

// Events of several deliveries (in delivery order) merged as consecutive upserts would merge them
// (ON CONFLICT cannot touch one row twice in a statement), then copied into the stage.
void stage_events(pqxx::transaction_base& tx, const std::vector<DeliveryRows>& deliveries) {
    std::map<std::int64_t, MergedEvent> events;
    for (const auto& d : deliveries) {
        for (const auto& e : d.records->events) {
            auto [it, fresh] = events.try_emplace(
                e.event_id, MergedEvent{&e, std::nullopt, &d.received_at, &d.received_at, d.delivery_id});
            if (fresh) continue;
            auto& m = it->second;
            if (!m.merged) m.merged = *m.record;
            payload::merge_event(*m.merged, e);
            m.last_seen_at = &d.received_at;
            m.last_delivery_id = d.delivery_id;
        }
    }
    pqxx::stream_to stage(tx, events_stage, events_stage_columns());
    for (const auto& [id, m] : events) {
        const auto& e = m.get();
        std::optional<std::string> extra;
        if (!e.extra.empty()) extra = json::serialize(e.extra);
        // In the order of event_columns; references, so no field is copied on the way.
        stage << std::forward_as_tuple(e.event_id, e.name, e.category, e.sub_category, e.description, e.start_date,
                                       e.end_date, e.estimated_attendee, e.attendee_min, e.attendee_max, e.venue,
                                       e.address, e.city, e.state, e.zip, e.country, e.region, e.lat, e.lng,
                                       e.status_code, extra, *m.first_seen_at, *m.last_seen_at, m.last_delivery_id);
    }
    stage.complete();
}

// The last delivery's score per (event, day) wins, as consecutive upserts would have it.
void stage_impacts(pqxx::transaction_base& tx, const std::vector<DeliveryRows>& deliveries) {
    std::map<std::pair<std::int64_t, std::string_view>, std::pair<const payload::ImpactRecord*, const DeliveryRows*>>
        last;
    for (const auto& d : deliveries)
        for (const auto& i : d.records->impacts) last[{i.event_id, i.impact_date}] = {&i, &d};
    pqxx::stream_to stage(tx, impacts_stage,
                          std::vector<std::string>{"event_id", "impact_date", "impact_score", "delivery_id",
                                                   "received_at"});
    for (const auto& [key, value] : last) {
        const auto& [i, d] = value;
        stage << std::forward_as_tuple(i->event_id, i->impact_date, i->impact_score, d->delivery_id, d->received_at);
    }
    stage.complete();
}

json::object demand_row(const payload::DemandRecord& d) {
    return json::object{
        {"demand_id", opt(d.demand_id)},   {"hotel_code", opt(d.hotel_code)},
        {"hotel_name", opt(d.hotel_name)}, {"city", opt(d.city)},
        {"country", opt(d.country)},       {"stay_date", opt(d.stay_date)},
        {"absolute_demand", opt(d.absolute_demand)}, {"relative_demand", opt(d.relative_demand)},
        {"events_registered", opt(d.events_registered)}, {"extra", extra_or_null(d.extra)},
    };
}

std::string demand_json(const std::vector<payload::DemandRecord>& demand) {
    json::array rows;
    rows.reserve(demand.size());
    for (const auto& d : demand) rows.push_back(demand_row(d));
    return json::serialize(rows);
}

// The last row of the delivery per (hotel, day): what hotel_demand_latest keeps.
std::string demand_latest_json(const std::vector<payload::DemandRecord>& demand) {
    std::map<std::pair<std::string, std::string>, const payload::DemandRecord*> last;
    for (const auto& d : demand)
        if (d.hotel_code && d.stay_date) last[{*d.hotel_code, *d.stay_date}] = &d;
    json::array rows;
    rows.reserve(last.size());
    for (const auto& [key, d] : last) rows.push_back(demand_row(*d));
    return json::serialize(rows);
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
        tx.exec(create_events_stage_sql());
        tx.exec(create_impacts_stage_sql);
    }
    c.prepare("upsert_events", upsert_events_sql());
    c.prepare("upsert_impacts", upsert_impacts_sql);
    c.prepare("insert_demand", insert_demand_sql());
    c.prepare("upsert_demand_latest", upsert_demand_latest_sql());
    c.prepare("insert_demand_events", insert_demand_events_sql);
}

void write_typed_rows(pqxx::transaction_base& tx, const std::vector<DeliveryRows>& deliveries) {
    bool events = false, impacts = false;
    for (const auto& d : deliveries) {
        events = events || !d.records->events.empty();
        impacts = impacts || !d.records->impacts.empty();
        const auto& r = *d.records;
        if (!r.demand.empty()) {
            tx.exec_prepared("insert_demand", demand_json(r.demand), d.received_at, d.delivery_id);
            tx.exec_prepared("upsert_demand_latest", demand_latest_json(r.demand), d.received_at, d.delivery_id);
        }
        if (!r.demand_events.empty())
            tx.exec_prepared("insert_demand_events", demand_events_json(r.demand_events), d.delivery_id);
    }
    if (events) {
        stage_events(tx, deliveries);
        tx.exec_prepared("upsert_events");
    }
    if (impacts) {
        stage_impacts(tx, deliveries);
        tx.exec_prepared("upsert_impacts");
    }
}

void write_typed_rows(pqxx::transaction_base& tx, std::int64_t delivery_id, const std::string& received_at,
                      const payload::Extraction& records) {
    write_typed_rows(tx, {DeliveryRows{delivery_id, received_at, &records}});
}

void delete_typed_rows(pqxx::transaction_base& tx, std::int64_t delivery_id) {
    tx.exec_params("DELETE FROM eventsshop.hotel_demand WHERE delivery_id = $1", delivery_id);
    tx.exec_params("DELETE FROM eventsshop.demand_event_records WHERE delivery_id = $1", delivery_id);
}

}  // namespace esr::db
