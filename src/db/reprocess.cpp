#include "esr/db/reprocess.hpp"

#include "esr/db/typed_rows.hpp"
#include "esr/log.hpp"
#include "esr/payload/extract.hpp"

#include <pqxx/binarystring>
#include <pqxx/result>
#include <pqxx/transaction>

#include <deque>

namespace esr::db {
namespace {

constexpr int deliveries_per_transaction = 200;

constexpr const char* select_filter =
    "FROM eventsshop.deliveries WHERE ($1 = '' OR kind = $1) AND ($2 = '' OR received_at >= $2::timestamptz) ";

}  // namespace

ReprocessProgress reprocess(pqxx::connection_base& connection, const ReprocessFilter& filter,
                            const std::function<void(const ReprocessProgress&)>& report) {
    const std::string kind = filter.kind ? std::string(to_string(*filter.kind)) : std::string();
    const std::string since = filter.since.value_or("");
    prepare_typed_statements(connection);

    ReprocessProgress progress;
    {
        pqxx::read_transaction tx(connection);
        progress.total = tx.exec_params1(std::string("SELECT count(*) ") + select_filter, kind, since)[0].as<std::int64_t>();
    }
    report(progress);

    std::int64_t last_id = 0;
    for (;;) {
        pqxx::work tx(connection);
        // Keyset pagination: the selection is fixed by id, so rows this run reclassifies (and so
        // no longer match --kind) are not revisited or skipped.
        auto rows = tx.exec_params(std::string("SELECT id, received_at::text, declared_kind, kind, body ") + select_filter +
                                       "AND id > $3 ORDER BY id LIMIT $4",
                                   kind, since, last_id, deliveries_per_transaction);
        if (rows.empty()) break;
        // Typed rows are written a few deliveries at a time, as a group-commit batch is (one COPY and
        // one upsert per table, merged in id order), and at most ~10,000 records at a time, as a
        // page of city matrices would not fit in memory at once.
        constexpr std::size_t records_per_write = 10'000;
        std::deque<payload::Extraction> extracted;
        std::vector<DeliveryRows> page;
        std::size_t page_records = 0;
        auto write_page = [&] {
            write_typed_rows(tx, page);
            page.clear();
            extracted.clear();
            page_records = 0;
        };
        for (const auto& row : rows) {
            const auto id = row[0].as<std::int64_t>();
            last_id = id;
            const std::string received_at = row[1].as<std::string>();
            std::optional<Kind> declared;
            if (!row[2].is_null()) declared = kind_from_string(row[2].as<std::string>());
            const std::string body = pqxx::binarystring(row[4]).str();

            payload::Extraction records;
            try {
                auto extracted_body = payload::extract_body(body, declared);
                if (auto* err = std::get_if<payload::JsonSyntaxError>(&extracted_body)) {
                    log::warning("reprocess: stored body is not JSON", {{"delivery_id", id}, {"error", err->message}});
                    ++progress.skipped;
                    continue;
                }
                records = std::move(std::get<payload::Extraction>(extracted_body));
            } catch (const payload::KindMismatch& e) {
                log::warning("reprocess: body no longer matches its path", {{"delivery_id", id}, {"error", e.what()}});
                ++progress.skipped;
                continue;
            }
            delete_typed_rows(tx, id);
            tx.exec_params("UPDATE eventsshop.deliveries SET kind = $2, record_count = $3, classification = $4 "
                           "WHERE id = $1",
                           id, std::string(to_string(records.kind)), static_cast<std::int64_t>(records.record_count()),
                           records.reason);
            if (row[3].as<std::string>() != to_string(records.kind)) ++progress.reclassified;
            progress.records += static_cast<std::int64_t>(records.record_count());
            ++progress.done;
            page_records += records.record_count();
            page.push_back(DeliveryRows{id, received_at, &extracted.emplace_back(std::move(records))});
            if (page_records >= records_per_write) write_page();
        }
        write_page();
        tx.commit();
        report(progress);
    }
    return progress;
}

}  // namespace esr::db
