#include "large_delivery.hpp"

#include "delivery_rows.hpp"
#include "esr/db/typed_rows.hpp"
#include "esr/payload/extract.hpp"

#include <boost/json/serialize.hpp>

#include <pqxx/connection_base>
#include <pqxx/nontransaction>
#include <pqxx/stream_to>
#include <pqxx/transaction>

namespace esr::db {
namespace {

// Session-local and emptied at every commit or rollback: COPY into it writes no WAL.
constexpr const char* create_staging =
    "CREATE TEMP TABLE IF NOT EXISTS demand_staging (ord bigint, demand_id bigint, hotel_code text, "
    "hotel_name text, city text, country text, stay_date date, absolute_demand bigint, "
    "relative_demand double precision, events_registered integer, extra jsonb) ON COMMIT DELETE ROWS";

// $1 delivery id, $2 received_at, $3..$6 the envelope's demandId, hotelCode, city, country ('' when
// none) for rows streamed before the envelope said them. One statement: the history rows, then the
// newest row per (hotel, day) of this delivery into hotel_demand_latest.
constexpr const char* move_staged_demand =
    "WITH s AS ("
    " SELECT ord, coalesce(demand_id, NULLIF($3, '')::bigint) AS demand_id,"
    "  coalesce(hotel_code, NULLIF($4, '')) AS hotel_code, hotel_name,"
    "  coalesce(city, NULLIF($5, '')) AS city, coalesce(country, NULLIF($6, '')) AS country,"
    "  stay_date, absolute_demand, relative_demand, events_registered, extra"
    " FROM pg_temp.demand_staging),"
    " history AS ("
    "  INSERT INTO eventsshop.hotel_demand (delivery_id, observed_at, demand_id, hotel_code, hotel_name, city,"
    "   country, stay_date, absolute_demand, relative_demand, events_registered, extra)"
    "  SELECT $1, $2::timestamptz, demand_id, hotel_code, hotel_name, city, country, stay_date, absolute_demand,"
    "   relative_demand, events_registered, extra FROM s ORDER BY ord)"
    " INSERT INTO eventsshop.hotel_demand_latest AS l (hotel_code, stay_date, demand_id, hotel_name, city, country,"
    "  absolute_demand, relative_demand, events_registered, observed_at, delivery_id)"
    " SELECT DISTINCT ON (hotel_code, stay_date) hotel_code, stay_date, demand_id, hotel_name, city, country,"
    "  absolute_demand, relative_demand, events_registered, $2::timestamptz, $1"
    " FROM s WHERE hotel_code IS NOT NULL AND stay_date IS NOT NULL"
    " ORDER BY hotel_code, stay_date, ord DESC"
    " ON CONFLICT (hotel_code, stay_date) DO UPDATE SET demand_id = EXCLUDED.demand_id,"
    "  hotel_name = EXCLUDED.hotel_name, city = EXCLUDED.city, country = EXCLUDED.country,"
    "  absolute_demand = EXCLUDED.absolute_demand, relative_demand = EXCLUDED.relative_demand,"
    "  events_registered = EXCLUDED.events_registered, observed_at = EXCLUDED.observed_at,"
    "  delivery_id = EXCLUDED.delivery_id"
    " WHERE (EXCLUDED.observed_at, EXCLUDED.delivery_id) >= (l.observed_at, l.delivery_id)";

/// Demand rows straight from the parser into COPY.
class CopyDemandRows final : public payload::DemandRowSink {
public:
    explicit CopyDemandRows(pqxx::transaction_base& tx)
        : stream_(tx, "pg_temp.demand_staging",
                  std::vector<std::string>{"ord", "demand_id", "hotel_code", "hotel_name", "city", "country",
                                           "stay_date", "absolute_demand", "relative_demand", "events_registered",
                                           "extra"}) {}

    void row(payload::DemandRecord&& r) override {
        std::optional<std::string> extra;
        if (!r.extra.empty()) extra = boost::json::serialize(r.extra);
        stream_ << std::make_tuple(++ord_, r.demand_id, r.hotel_code, r.hotel_name, r.city, r.country, r.stay_date,
                                   r.absolute_demand, r.relative_demand, r.events_registered, extra);
    }

    void complete() { stream_.complete(); }

private:
    pqxx::stream_to stream_;
    std::int64_t ord_ = 0;
};

std::string text_or_empty(const std::optional<std::string>& v) { return v.value_or(""); }

StoreOutcome reject(pqxx::connection_base& c, const Delivery& d, std::string code, const std::string& reason) {
    pqxx::work tx(c);
    insert_rejected(tx, d, reason);
    tx.commit();
    return StoreOutcome::rejected(std::move(code), reason);
}

}  // namespace

void prepare_large_delivery(pqxx::connection_base& c) {
    {
        pqxx::nontransaction tx(c);
        tx.exec(create_staging);
    }
    c.prepare("move_staged_demand", move_staged_demand);
}

StoreOutcome store_large_delivery(pqxx::connection_base& c, const Delivery& d) {
    std::optional<std::variant<payload::Extraction, payload::JsonSyntaxError>> extracted;
    std::string mismatch;
    {
        pqxx::work tx(c);
        if (auto dup = find_duplicate(tx, d)) return *dup;  // stored before, so it was valid then
        CopyDemandRows rows(tx);
        try {
            extracted = payload::extract_streaming(d.body, d.declared_kind, rows);
        } catch (const payload::KindMismatch& e) {
            mismatch = std::string(e.what()) + ", yet it was posted to " + d.path;
        }
        rows.complete();
        if (extracted && std::holds_alternative<payload::Extraction>(*extracted)) {
            const auto& x = std::get<payload::Extraction>(*extracted);
            auto inserted = insert_delivery(tx, d, x.kind, static_cast<std::int64_t>(x.record_count()), x.reason);
            if (!inserted) {
                // Another writer stored the same body meanwhile.
                tx.abort();
                pqxx::work again(c);
                return *find_duplicate(again, d);
            }
            if (x.streamed_demand > 0) {
                const auto& dd = x.demand_defaults;
                tx.exec_prepared("move_staged_demand", inserted->id, inserted->received_at,
                                 dd.demand_id ? std::to_string(*dd.demand_id) : std::string(),
                                 text_or_empty(dd.hotel_code), text_or_empty(dd.city), text_or_empty(dd.country));
            }
            write_typed_rows(tx, inserted->id, inserted->received_at, x);
            tx.commit();
            return StoreOutcome::stored(inserted->id, x.kind, static_cast<std::int64_t>(x.record_count()));
        }
    }  // not stored: the staged rows go with the rollback
    if (!mismatch.empty()) return reject(c, d, "kind_mismatch", mismatch);
    const auto& err = std::get<payload::JsonSyntaxError>(*extracted);
    return reject(c, d, "invalid_json",
                  "the body is not JSON: " + err.message + " at byte " + std::to_string(err.offset));
}

}  // namespace esr::db
