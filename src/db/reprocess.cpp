#include "esr/db/reprocess.hpp"

#include "esr/db/migrations.hpp"
#include "large_delivery.hpp"
#include "query.hpp"
#include "typed_rows.hpp"
#include "esr/log.hpp"
#include "esr/payload/extract.hpp"

#include <pqxx/binarystring>
#include <pqxx/except>
#include <pqxx/result>
#include <pqxx/subtransaction>
#include <pqxx/transaction>

#include <deque>
#include <stdexcept>

namespace esr::db {
namespace {

constexpr int deliveries_per_page = 200;         // ids, sizes and kinds only: no bodies
constexpr std::uint64_t group_body_bytes = 8 << 20;  // small bodies derived in one transaction
constexpr std::size_t records_per_write = 10'000;    // typed rows written at once, as a group commit does
constexpr std::int64_t body_slice_bytes = 1 << 20;   // a body is read in slices: no hex copy of all of it

struct Stored {
    std::int64_t id = 0;
    std::string received_at;
    std::optional<Kind> declared;
    std::string kind;
    std::int64_t byte_size = 0;
};

std::string body_of(pqxx::transaction_base& tx, const Stored& d) {
    std::string body;
    body.reserve(static_cast<std::size_t>(d.byte_size));
    for (std::int64_t from = 1; from <= d.byte_size; from += body_slice_bytes) {
        auto r = exec_prepared(tx, q::delivery_body_slice, d.id, from, body_slice_bytes);
        if (r.empty()) break;
        body += pqxx::binarystring(r[0][0]).str();
    }
    return body;
}

void update_delivery(pqxx::transaction_base& tx, std::int64_t id, const payload::Extraction& x, bool latest_pending) {
    exec_prepared(tx, q::reclassify_delivery, id, std::string(to_string(x.kind)),
                  static_cast<std::int64_t>(x.record_count()), x.reason, latest_pending);
}

bool lost(pqxx::connection_base& c) { return !c.is_open(); }

// libpqxx 6.4 sends a subtransaction's SAVEPOINT with its first exec(), but not before an
// exec_prepared(): a page of prepared statements ran outside its savepoint, rolling it back undid
// nothing, and one poison delivery aborted the page's whole transaction. Call this first.
void begin_savepoint(pqxx::subtransaction& st) { st.exec("SELECT 1"); }

class Reprocessor {
public:
    Reprocessor(pqxx::connection_base& c, ReprocessProgress& progress) : c_(c), progress_(progress) {}

    void small_group(std::vector<Stored>& group) {
        if (group.empty()) return;
        pqxx::work tx(c_);
        std::deque<payload::Extraction> extracted;
        std::vector<const Stored*> derivable;
        for (const auto& d : group) {
            auto x = extract(body_of(tx, d), d);
            if (!x) continue;
            extracted.push_back(std::move(*x));
            derivable.push_back(&d);
        }
        // All together first; if that fails, each alone, so one delivery cannot stop the others.
        try {
            pqxx::subtransaction st(tx, "group");
            begin_savepoint(st);
            write(st, derivable, extracted, 0, derivable.size());
            st.commit();
            for (std::size_t i = 0; i < derivable.size(); ++i) done(*derivable[i], extracted[i]);
        } catch (const pqxx::sql_error&) {
            if (lost(c_)) throw;
            for (std::size_t i = 0; i < derivable.size(); ++i) {
                try {
                    pqxx::subtransaction st(tx, "one");
                    begin_savepoint(st);
                    write(st, derivable, extracted, i, i + 1);
                    st.commit();
                    done(*derivable[i], extracted[i]);
                } catch (const pqxx::sql_error& e) {
                    if (lost(c_)) throw;
                    fail(derivable[i]->id, e.what());
                }
            }
        }
        tx.commit();
        group.clear();
    }

    // A large body: read in slices, its demand rows streamed into COPY as intake does.
    void large(const Stored& d) {
        pqxx::work tx(c_);
        std::string body = body_of(tx, d);
        try {
            pqxx::subtransaction st(tx, "large");
            begin_savepoint(st);
            delete_typed_rows(st, d.id);
            auto derived = derive_streaming(st, d.id, d.received_at, body, d.declared, "/");
            if (!derived.records) {
                st.abort();
                skip(d.id, derived.refused.reason);
                tx.commit();
                return;
            }
            update_delivery(st, d.id, *derived.records, derived.records->streamed_demand > 0);
            st.commit();
            done(d, *derived.records);
            retry_latest_now(d.id);  // refused before (say, rows derived by an older build): its new rows may pass
        } catch (const pqxx::sql_error& e) {
            if (lost(c_)) throw;
            fail(d.id, e.what());
        }
        tx.commit();
        apply_pending_latest(c_);
    }

private:
    std::optional<payload::Extraction> extract(const std::string& body, const Stored& d) {
        auto extracted = payload::extract_body(body, d.declared);
        if (auto* err = std::get_if<payload::JsonSyntaxError>(&extracted)) {
            skip(d.id, "the stored body is not JSON: " + err->message);
            return std::nullopt;
        }
        if (auto* mismatch = std::get_if<payload::KindMismatch>(&extracted)) {
            skip(d.id, "the body no longer matches its path: " + mismatch->message);
            return std::nullopt;
        }
        return std::move(std::get<payload::Extraction>(extracted));
    }

    void write(pqxx::transaction_base& tx, const std::vector<const Stored*>& derivable,
               const std::deque<payload::Extraction>& extracted, std::size_t from, std::size_t to) {
        std::vector<DeliveryRows> page;
        std::size_t page_records = 0;
        for (std::size_t i = from; i < to; ++i) {
            delete_typed_rows(tx, derivable[i]->id);
            update_delivery(tx, derivable[i]->id, extracted[i], false);
            page.push_back(DeliveryRows{derivable[i]->id, derivable[i]->received_at, &extracted[i]});
            page_records += extracted[i].record_count();
            if (page_records >= records_per_write) {
                write_typed_rows(tx, page);
                page.clear();
                page_records = 0;
            }
        }
        write_typed_rows(tx, page);
    }

    void done(const Stored& d, const payload::Extraction& x) {
        if (d.kind != to_string(x.kind)) ++progress_.reclassified;
        progress_.records += static_cast<std::int64_t>(x.record_count());
        ++progress_.done;
    }
    void skip(std::int64_t id, const std::string& why) {
        log::warning("reprocess: delivery skipped", {{"delivery_id", id}, {"error", why}});
        ++progress_.skipped;
    }
    void fail(std::int64_t id, const std::string& why) {
        log::error("reprocess: typed rows could not be written; the delivery keeps its earlier rows",
                   {{"delivery_id", id}, {"error", why.substr(0, why.find('\n'))}});
        ++progress_.failed;
        if (progress_.failed_ids.size() < ReprocessProgress::failed_ids_kept) progress_.failed_ids.push_back(id);
    }

    pqxx::connection_base& c_;
    ReprocessProgress& progress_;
};

}  // namespace

ReprocessProgress reprocess(pqxx::connection_base& connection, const ReprocessFilter& filter,
                            const std::function<void(const ReprocessProgress&)>& report) {
    const std::string kind = filter.kind ? std::string(to_string(*filter.kind)) : std::string();
    const std::string since = filter.since.value_or("");
    // Deliveries move from the old table lowest id first, behind this run's cursor: they would be
    // passed over without a word.
    if (history_move_pending(connection))
        throw std::runtime_error("rows of schema version 2 are still being moved into the partitioned tables: "
                                 "run 'eventsshop-receiver migrate' to finish the move first");
    prepare_typed_statements(connection);
    prepare_large_delivery(connection);
    for (const auto* query :
         {&q::reprocess_count, &q::reprocess_page, &q::delivery_body_slice, &q::reclassify_delivery})
        prepare(connection, *query);

    ReprocessProgress progress;
    {
        pqxx::read_transaction tx(connection);
        progress.total = exec_prepared1(tx, q::reprocess_count, kind, since)[0].as<std::int64_t>();
    }
    report(progress);
    apply_pending_latest(connection);  // what an earlier run or the daemon left pending

    Reprocessor reprocessor(connection, progress);
    std::int64_t last_id = 0;
    for (;;) {
        // Keyset pagination: the selection is fixed by id, so rows this run reclassifies (and so
        // no longer match --kind) are not revisited or skipped.
        std::vector<Stored> page;
        {
            pqxx::read_transaction tx(connection);
            auto rows = exec_prepared(tx, q::reprocess_page, kind, since, last_id, deliveries_per_page);
            for (const auto& row : rows) {
                Stored d{row[0].as<std::int64_t>(), row[1].as<std::string>(), std::nullopt, row[3].as<std::string>(),
                         row[4].as<std::int64_t>()};
                if (!row[2].is_null()) d.declared = kind_from_string(row[2].as<std::string>());
                page.push_back(std::move(d));
            }
        }
        if (page.empty()) break;
        last_id = page.back().id;
        std::vector<Stored> group;
        std::uint64_t group_bytes = 0;
        for (auto& d : page) {
            if (static_cast<std::uint64_t>(d.byte_size) >= filter.large_body_bytes) {
                reprocessor.small_group(group);
                group_bytes = 0;
                reprocessor.large(d);
                continue;
            }
            group_bytes += static_cast<std::uint64_t>(d.byte_size);
            group.push_back(std::move(d));
            if (group_bytes >= group_body_bytes) {
                reprocessor.small_group(group);
                group_bytes = 0;
            }
        }
        reprocessor.small_group(group);
        report(progress);
    }
    return progress;
}

}  // namespace esr::db
