#include "delivery_rows.hpp"

#include "esr/db/statements.hpp"

#include <pqxx/binarystring>
#include <pqxx/connection_base>
#include <pqxx/prepared_statement>
#include <pqxx/result>
#include <pqxx/transaction_base>

#include <algorithm>

namespace esr::db {
namespace {
constexpr std::size_t rejected_body_cap = 1 << 20;

pqxx::binarystring digest_of(const Delivery& d) {
    return pqxx::binarystring(d.body_sha256.data(), d.body_sha256.size());
}
}  // namespace

void prepare_delivery_statements(pqxx::connection_base& c) {
    c.prepare("insert_delivery", sql::insert_delivery);
    c.prepare("find_delivery_by_hash", sql::find_delivery_by_hash);
    c.prepare("insert_rejected_delivery", sql::insert_rejected_delivery);
}

std::map<std::string, InsertedDelivery> insert_deliveries(pqxx::transaction_base& tx,
                                                          const std::vector<NewDelivery>& deliveries) {
    constexpr std::size_t rows_per_statement = 1000;  // 9 parameters a row; PostgreSQL allows 65535
    std::map<std::string, InsertedDelivery> inserted;
    for (std::size_t from = 0; from < deliveries.size(); from += rows_per_statement) {
        const std::size_t n = std::min(rows_per_statement, deliveries.size() - from);
        // Parameters: the 2n binary ones (body, digest) first, then 7 text ones a row.
        std::vector<pqxx::binarystring> binary;
        std::vector<std::string> text;
        binary.reserve(2 * n);
        text.reserve(7 * n);
        std::string sql =
            "INSERT INTO eventsshop.deliveries (kind, body, body_sha256, byte_size, remote_addr, principal, "
            "record_count, declared_kind, classification) VALUES ";
        for (std::size_t i = 0; i < n; ++i) {
            const NewDelivery& nd = deliveries[from + i];
            const Delivery& d = *nd.delivery;
            binary.emplace_back(d.body.data(), d.body.size());
            binary.push_back(digest_of(d));
            text.insert(text.end(), {std::string(to_string(nd.kind)), std::to_string(d.body.size()), d.remote_addr,
                                     d.principal, std::to_string(nd.record_count),
                                     d.declared_kind ? std::string(to_string(*d.declared_kind)) : std::string(),
                                     nd.classification});
            auto b = [&](std::size_t k) { return "$" + std::to_string(2 * i + k); };
            auto t = [&](std::size_t k) { return "$" + std::to_string(2 * n + 7 * i + k); };
            sql += (i ? ", (" : "(") + t(1) + ", " + b(1) + ", " + b(2) + ", " + t(2) + "::bigint, NULLIF(" + t(3) +
                   ", '')::inet, " + t(4) + ", " + t(5) + "::integer, NULLIF(" + t(6) + ", ''), " + t(7) + ")";
        }
        sql += " ON CONFLICT (body_sha256) DO NOTHING RETURNING id, received_at::text, body_sha256";
        auto rows = tx.exec_params(sql, pqxx::prepare::make_dynamic_params(binary),
                                   pqxx::prepare::make_dynamic_params(text));
        for (const auto& row : rows)
            inserted.emplace(pqxx::binarystring(row[2]).str(),
                             InsertedDelivery{row[0].as<std::int64_t>(), row[1].as<std::string>()});
    }
    return inserted;
}

std::optional<InsertedDelivery> insert_delivery(pqxx::transaction_base& tx, const Delivery& d, Kind kind,
                                                std::int64_t record_count, const std::string& classification,
                                                bool with_body) {
    auto r = tx.exec_prepared("insert_delivery", std::string(to_string(kind)),
                              pqxx::binarystring(d.body.data(), with_body ? d.body.size() : 0), digest_of(d),
                              static_cast<std::int64_t>(d.body.size()), d.remote_addr, d.principal, record_count,
                              d.declared_kind ? std::string(to_string(*d.declared_kind)) : std::string(),
                              classification);
    if (r.empty()) return std::nullopt;
    return InsertedDelivery{r[0][0].as<std::int64_t>(), r[0][1].as<std::string>()};
}

std::optional<StoreOutcome> find_duplicate(pqxx::transaction_base& tx, const Delivery& d) {
    auto r = tx.exec_prepared("find_delivery_by_hash", digest_of(d));
    if (r.empty()) return std::nullopt;
    return StoreOutcome::duplicate(r[0][0].as<std::int64_t>(),
                                   kind_from_string(r[0][1].as<std::string>()).value_or(Kind::unclassified),
                                   r[0][2].as<std::int64_t>());
}

std::int64_t insert_rejected(pqxx::transaction_base& tx, const Delivery& d, const std::string& reason) {
    std::size_t kept = std::min(d.body.size(), rejected_body_cap);
    auto row = tx.exec_prepared1("insert_rejected_delivery", d.remote_addr, d.principal, d.path,
                                 static_cast<std::int64_t>(d.body.size()), digest_of(d),
                                 pqxx::binarystring(d.body.data(), kept), kept < d.body.size(), reason);
    return row[0].as<std::int64_t>();
}

}  // namespace esr::db
