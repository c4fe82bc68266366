#include "large_delivery.hpp"

#include "connection.hpp"
#include "delivery_rows.hpp"
#include "demand_writer.hpp"
#include "query.hpp"
#include "typed_rows.hpp"
#include "esr/db/latest_retries.hpp"
#include "esr/log.hpp"
#include "esr/payload/extract.hpp"

#include <pqxx/connection_base>
#include <pqxx/except>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <set>

namespace esr::db {
namespace {

StoreOutcome reject(pqxx::connection_base& c, const Delivery& d, std::string code, const std::string& reason,
                    bool keep) {
    if (keep) {
        pqxx::work tx(c);
        insert_rejected(tx, d, reason);
        tx.commit();
    }
    return StoreOutcome::rejected(std::move(code), reason);
}

LatestRetries latest_retries;  // what apply_pending_latest puts off, and until when

}  // namespace

void prepare_large_delivery(pqxx::connection_base& c) {
    prepare(c, q::pending_latest);
    prepare(c, q::clear_latest_pending);
    prepare(c, q::claim_latest_pending);
}

DerivedRows derive_streaming(pqxx::dbtransaction& tx, std::int64_t delivery_id, const std::string& received_at,
                             std::string_view body, std::optional<Kind> declared, const std::string& path) {
    DerivedRows out;
    DemandCopy rows(tx, delivery_id, received_at);
    auto extracted = payload::extract_streaming(body, declared, rows);
    auto* x = std::get_if<payload::Extraction>(&extracted);
    rows.complete(x && x->streamed_demand > 0 ? &x->demand_defaults : nullptr);
    if (auto* mismatch = std::get_if<payload::KindMismatch>(&extracted)) {
        out.refused = kind_mismatch(*mismatch, path);
        return out;
    }
    if (auto* err = std::get_if<payload::JsonSyntaxError>(&extracted)) {
        out.refused = invalid_json(*err);
        return out;
    }
    out.largest_parameter = write_typed_rows(tx, delivery_id, received_at, *x);
    out.records = std::move(*x);
    return out;
}

StoreOutcome store_large_delivery(pqxx::connection_base& c, Delivery& d, bool keep_refused, bool& holds_large_buffers) {
    // From this size a kept buffer outweighs a reconnect (rare: demand rows in arrays stream instead).
    constexpr std::size_t large_parameter_bytes = 8u << 20;
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
        tx.exec(q::no_statement_timeout.text);
        if (auto dup = find_duplicate(tx, d)) return *dup;  // stored before, so it was valid then
        // The digest and id first, so the demand rows can stream straight into hotel_demand with
        // the id; the delivery's row, body included, goes last, by COPY from where the body lies.
        // Should the body turn out not to be JSON, the rollback takes all back.
        auto claimed = claim_digest(tx, d);
        if (!claimed) {  // another writer stored the same body meanwhile
            tx.abort();
            return stored_meanwhile(c, d);
        }
        auto body_ms = ms_since(started);
        derived = derive_streaming(tx, claimed->id, claimed->received_at, d.body, d.declared_kind, d.path);
        holds_large_buffers = holds_large_buffers || derived.largest_parameter >= large_parameter_bytes;
        auto derived_ms = ms_since(started);
        if (derived.records) {
            const Kind kind = derived.records->kind;
            const std::size_t record_count = derived.records->record_count();
            const bool demand_streamed = derived.records->streamed_demand > 0;
            copy_delivery(tx, *claimed, d, kind, static_cast<std::int64_t>(record_count), derived.records->reason,
                          demand_streamed);
            tx.commit();
            log::info("large delivery stored", {{"delivery_id", claimed->id},
                                                {"bytes", bytes},
                                                {"records", record_count},
                                                {"body_ms", body_ms},
                                                {"derived_ms", derived_ms},
                                                {"total_ms", ms_since(started)}});
            return StoreOutcome::stored(claimed->id, kind, static_cast<std::int64_t>(record_count));
        }
    }  // not stored: the body and the streamed rows go with the rollback
    return reject(c, d, derived.refused.code, derived.refused.reason, keep_refused);
}

std::size_t apply_pending_latest(pqxx::connection_base& c) {
    std::vector<std::pair<std::int64_t, std::string>> pending;
    {
        pqxx::read_transaction tx(c);
        for (const auto& row : exec_prepared(tx, q::pending_latest))
            pending.emplace_back(row[0].as<std::int64_t>(), row[1].as<std::string>());
    }
    std::set<std::int64_t> pending_ids;
    for (const auto& p : pending) pending_ids.insert(p.first);
    latest_retries.keep_only(pending_ids);  // applied elsewhere (another instance, reprocess) meanwhile
    std::size_t applied = 0;
    for (const auto& [id, received_at] : pending) {
        if (latest_retries.wait(id)) continue;
        auto started = std::chrono::steady_clock::now();
        std::size_t rows = 0;
        try {
            pqxx::work tx(c);
            // Another instance may be at it now, or have done it since the list was read: then it
            // is theirs, and nothing is left to do here.
            if (exec_prepared(tx, q::claim_latest_pending, id).empty()) continue;
            tx.exec(q::latest_work_mem.text);  // sort a city matrix's keys in memory
            tx.exec(q::no_statement_timeout.text);  // a year-long matrix's update is not a hung statement
            rows = write_demand_latest(tx, id, received_at);
            exec_prepared(tx, q::clear_latest_pending, id);
            tx.commit();
        } catch (const pqxx::sql_error& e) {
            if (!c.is_open()) throw;
            // What the failure says, and when to try again: LatestRetries.
            const auto retry = latest_retries.failed(id, e.sqlstate());
            if (retry.pause.count() == 0) {
                log::warning("hotel_demand_latest: a delivery's update failed; tried again at the next turn",
                             {{"delivery_id", id}, {"error", first_line(e.what())}});
                throw;
            }
            using Why = LatestRetries::Why;
            log::error(retry.why == Why::refused
                           ? "hotel_demand_latest: a delivery's rows were refused; it stays pending "
                             "(reprocess --kind hoteldemand derives it again)"
                       : retry.why == Why::over_limit
                           ? "hotel_demand_latest: a delivery's update went over temp_file_limit; it stays "
                             "pending (raise the limit for the daemon's role)"
                           : "hotel_demand_latest: a delivery's update failed again; it stays pending",
                       {{"delivery_id", id}, {"error", first_line(e.what())}, {"next_try_minutes", retry.pause.count()}});
            continue;
        }
        latest_retries.forget(id);
        ++applied;
        log::info("hotel_demand_latest brought up to date",
                  {{"delivery_id", id},
                   {"latest_rows", rows},
                   {"ms", std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                                started).count()}});
    }
    return applied;
}

void retry_latest_now(std::int64_t id) { latest_retries.forget(id); }

}  // namespace esr::db
