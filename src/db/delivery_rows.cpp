#include "delivery_rows.hpp"

#include "esr/db/statements.hpp"

#include <pqxx/binarystring>
#include <pqxx/connection_base>
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

std::optional<InsertedDelivery> insert_delivery(pqxx::transaction_base& tx, const Delivery& d, Kind kind,
                                                std::int64_t record_count, const std::string& classification) {
    auto r = tx.exec_prepared("insert_delivery", std::string(to_string(kind)),
                              pqxx::binarystring(d.body.data(), d.body.size()), digest_of(d),
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
