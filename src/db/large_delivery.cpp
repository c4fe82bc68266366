#include "large_delivery.hpp"

#include "delivery_rows.hpp"
#include "esr/db/typed_rows.hpp"
#include "esr/log.hpp"
#include "esr/payload/extract.hpp"

#include <boost/json/serialize.hpp>

#include <pqxx/binarystring>
#include <pqxx/connection_base>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/stream_to>
#include <pqxx/transaction>

#include <chrono>

namespace esr::db {
namespace {

// The newest row per (hotel, day) of delivery $1 (received at $2) into hotel_demand_latest, in two
// steps: an UPDATE where the row exists (in place, thanks to the table's fillfactor), then an
// INSERT of the rest, run only when the UPDATE did not cover every row. Measured 3x faster than
// INSERT ... ON CONFLICT for a city matrix whose keys mostly exist. Within one delivery the same
// (hotel, day) twice is resolved by physical order (ctid), which COPY does not promise to keep;
// hotel_demand keeps both rows.
constexpr const char* newest_rows_of_delivery =
    "SELECT DISTINCT ON (hotel_code, stay_date) hotel_code, stay_date, demand_id, hotel_name, city, country,"
    " absolute_demand, relative_demand, events_registered"
    " FROM eventsshop.hotel_demand WHERE delivery_id = $1 AND hotel_code IS NOT NULL AND stay_date IS NOT NULL"
    " ORDER BY hotel_code, stay_date, ctid DESC";

const std::string update_latest_from_delivery =
    std::string("UPDATE eventsshop.hotel_demand_latest l SET demand_id = r.demand_id, hotel_name = r.hotel_name,"
                " city = r.city, country = r.country, absolute_demand = r.absolute_demand,"
                " relative_demand = r.relative_demand, events_registered = r.events_registered,"
                " observed_at = $2::timestamptz, delivery_id = $1 FROM (") +
    newest_rows_of_delivery +
    ") r WHERE l.hotel_code = r.hotel_code AND l.stay_date = r.stay_date"
    " AND ($2::timestamptz, $1::bigint) >= (l.observed_at, l.delivery_id)";

// Also resolves a conflict with a concurrent writer that inserted a key after the UPDATE.
const std::string insert_latest_from_delivery =
    std::string("INSERT INTO eventsshop.hotel_demand_latest AS l (hotel_code, stay_date, demand_id, hotel_name,"
                " city, country, absolute_demand, relative_demand, events_registered, observed_at, delivery_id)"
                " SELECT hotel_code, stay_date, demand_id, hotel_name, city, country, absolute_demand,"
                " relative_demand, events_registered, $2::timestamptz, $1 FROM (") +
    newest_rows_of_delivery +
    ") r WHERE NOT EXISTS (SELECT 1 FROM eventsshop.hotel_demand_latest x"
    " WHERE x.hotel_code = r.hotel_code AND x.stay_date = r.stay_date)"
    " ON CONFLICT (hotel_code, stay_date) DO UPDATE SET demand_id = EXCLUDED.demand_id,"
    " hotel_name = EXCLUDED.hotel_name, city = EXCLUDED.city, country = EXCLUDED.country,"
    " absolute_demand = EXCLUDED.absolute_demand, relative_demand = EXCLUDED.relative_demand,"
    " events_registered = EXCLUDED.events_registered, observed_at = EXCLUDED.observed_at,"
    " delivery_id = EXCLUDED.delivery_id"
    " WHERE (EXCLUDED.observed_at, EXCLUDED.delivery_id) >= (l.observed_at, l.delivery_id)";

// Rows streamed before the envelope named its demandId, hotelCode, city or country ('' when it
// did not) get them now.
constexpr const char* fill_late_envelope_defaults =
    "UPDATE eventsshop.hotel_demand SET demand_id = coalesce(demand_id, NULLIF($2, '')::bigint),"
    " hotel_code = coalesce(hotel_code, NULLIF($3, '')), city = coalesce(city, NULLIF($4, '')),"
    " country = coalesce(country, NULLIF($5, ''))"
    " WHERE delivery_id = $1 AND (demand_id IS NULL OR hotel_code IS NULL OR city IS NULL OR country IS NULL)";

constexpr const char* complete_delivery =
    "UPDATE eventsshop.deliveries SET kind = $2, record_count = $3, classification = $4, body = $5, "
    "latest_pending = $6 WHERE id = $1";

constexpr const char* pending_latest =
    "SELECT id, received_at::text, (SELECT count(*) FROM eventsshop.hotel_demand h WHERE h.delivery_id = d.id) "
    "FROM eventsshop.deliveries d WHERE latest_pending ORDER BY id";

constexpr const char* clear_latest_pending = "UPDATE eventsshop.deliveries SET latest_pending = false WHERE id = $1";

/// Demand rows straight from the parser into COPY, in the delivery's transaction.
class CopyDemandRows final : public payload::DemandRowSink {
public:
    CopyDemandRows(pqxx::transaction_base& tx, std::int64_t delivery_id, std::string received_at)
        : stream_(tx, "eventsshop.hotel_demand",
                  std::vector<std::string>{"delivery_id", "observed_at", "demand_id", "hotel_code", "hotel_name",
                                           "city", "country", "stay_date", "absolute_demand", "relative_demand",
                                           "events_registered", "extra"}),
          delivery_id_(delivery_id),
          received_at_(std::move(received_at)) {}

    void row(payload::DemandRecord&& r) override {
        std::optional<std::string> extra;
        if (!r.extra.empty()) extra = boost::json::serialize(r.extra);
        if (!r.demand_id || !r.hotel_code || !r.city || !r.country) ++missing_envelope_values_;
        stream_ << std::make_tuple(delivery_id_, received_at_, r.demand_id, r.hotel_code, r.hotel_name, r.city,
                                   r.country, r.stay_date, r.absolute_demand, r.relative_demand, r.events_registered,
                                   extra);
    }

    void complete() { stream_.complete(); }
    std::size_t missing_envelope_values() const { return missing_envelope_values_; }

private:
    pqxx::stream_to stream_;
    std::int64_t delivery_id_;
    std::string received_at_;
    std::size_t missing_envelope_values_ = 0;
};

std::string text_or_empty(const std::optional<std::string>& v) { return v.value_or(""); }

StoreOutcome reject(pqxx::connection_base& c, const Delivery& d, std::string code, const std::string& reason,
                    bool keep) {
    if (keep) {
        pqxx::work tx(c);
        insert_rejected(tx, d, reason);
        tx.commit();
    }
    return StoreOutcome::rejected(std::move(code), reason);
}

}  // namespace

void prepare_large_delivery(pqxx::connection_base& c) {
    c.prepare("update_latest_from_delivery", update_latest_from_delivery);
    c.prepare("insert_latest_from_delivery", insert_latest_from_delivery);
    c.prepare("fill_late_envelope_defaults", fill_late_envelope_defaults);
    c.prepare("complete_delivery", complete_delivery);
    c.prepare("pending_latest", pending_latest);
    c.prepare("clear_latest_pending", clear_latest_pending);
}

DerivedRows derive_streaming(pqxx::transaction_base& tx, std::int64_t delivery_id, const std::string& received_at,
                             std::string_view body, std::optional<Kind> declared, const std::string& path) {
    DerivedRows out;
    CopyDemandRows rows(tx, delivery_id, received_at);
    auto extracted = payload::extract_streaming(body, declared, rows);
    rows.complete();
    if (auto* mismatch = std::get_if<payload::KindMismatch>(&extracted)) {
        out.refused = kind_mismatch(*mismatch, path);
        return out;
    }
    if (auto* err = std::get_if<payload::JsonSyntaxError>(&extracted)) {
        out.refused = invalid_json(*err);
        return out;
    }
    auto& x = std::get<payload::Extraction>(extracted);
    if (x.streamed_demand > 0) {
        const auto& dd = x.demand_defaults;
        if (rows.missing_envelope_values() > 0 && (dd.demand_id || dd.hotel_code || dd.city || dd.country)) {
            tx.exec_prepared("fill_late_envelope_defaults", delivery_id,
                             dd.demand_id ? std::to_string(*dd.demand_id) : std::string(), text_or_empty(dd.hotel_code),
                             text_or_empty(dd.city), text_or_empty(dd.country));
        }
    }
    write_typed_rows(tx, delivery_id, received_at, x);
    out.records = std::move(x);
    return out;
}

StoreOutcome store_large_delivery(pqxx::connection_base& c, Delivery& d, bool keep_refused) {
    using clock = std::chrono::steady_clock;
    auto ms_since = [](clock::time_point t) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - t).count();
    };
    auto started = clock::now();
    const auto bytes = d.body.size();
    DerivedRows derived;
    {
        pqxx::work tx(c);
        // The parse of the body runs inside the COPY below: --statement-timeout must not cut it.
        tx.exec("SET LOCAL statement_timeout = 0");
        if (auto dup = find_duplicate(tx, d)) return *dup;  // stored before, so it was valid then
        // The row first, so the demand rows can stream straight into hotel_demand with its id; the
        // body itself goes last. Should the body turn out not to be JSON, the rollback takes all back.
        auto inserted = insert_delivery(tx, d, d.kind, 0, "", false);
        if (!inserted) {  // another writer stored the same body meanwhile
            tx.abort();
            pqxx::work again(c);
            return *find_duplicate(again, d);
        }
        auto body_ms = ms_since(started);
        derived = derive_streaming(tx, inserted->id, inserted->received_at, d.body, d.declared_kind, d.path);
        if (derived.records) {
            const auto& x = *derived.records;
            pqxx::binarystring body(d.body.data(), d.body.size());
            std::string().swap(d.body);  // libpqxx's copy is enough from here
            try {
                tx.exec_prepared("complete_delivery", inserted->id, std::string(to_string(x.kind)),
                                 static_cast<std::int64_t>(x.record_count()), x.reason, body, x.streamed_demand > 0);
                tx.commit();
            } catch (...) {
                d.body = body.str();  // the caller may still spool it
                throw;
            }
            log::info("large delivery stored", {{"delivery_id", inserted->id},
                                                {"bytes", bytes},
                                                {"records", x.record_count()},
                                                {"body_ms", body_ms},
                                                {"total_ms", ms_since(started)}});
            return StoreOutcome::stored(inserted->id, x.kind, static_cast<std::int64_t>(x.record_count()));
        }
    }  // not stored: the body and the streamed rows go with the rollback
    return reject(c, d, derived.refused.code, derived.refused.reason, keep_refused);
}

std::size_t apply_pending_latest(pqxx::connection_base& c) {
    std::vector<std::tuple<std::int64_t, std::string, std::int64_t>> pending;
    {
        pqxx::read_transaction tx(c);
        for (const auto& row : tx.exec_prepared("pending_latest"))
            pending.emplace_back(row[0].as<std::int64_t>(), row[1].as<std::string>(), row[2].as<std::int64_t>());
    }
    for (const auto& [id, received_at, rows] : pending) {
        auto started = std::chrono::steady_clock::now();
        pqxx::work tx(c);
        tx.exec("SET LOCAL work_mem = '64MB'");  // sort a city matrix's keys in memory
        tx.exec("SET LOCAL statement_timeout = 0");  // a year-long matrix's update is not a hung statement
        auto updated = tx.exec_prepared("update_latest_from_delivery", id, received_at);
        if (updated.affected_rows() < static_cast<std::size_t>(rows))
            tx.exec_prepared("insert_latest_from_delivery", id, received_at);
        tx.exec_prepared("clear_latest_pending", id);
        tx.commit();
        log::info("hotel_demand_latest brought up to date",
                  {{"delivery_id", id},
                   {"rows", rows},
                   {"ms", std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                                started).count()}});
    }
    return pending.size();
}

}  // namespace esr::db
