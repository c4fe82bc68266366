#include "delivery_rows.hpp"

#include "array_literal.hpp"
#include "esr/db/binary_copy.hpp"
#include "query.hpp"

#include <pqxx/binarystring>
#include <pqxx/connection_base>
#include <pqxx/except>
#include <pqxx/prepared_statement>
#include <pqxx/result>
#include <pqxx/transaction>
#include <pqxx/transaction_base>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string_view>

namespace esr::db {
namespace {
constexpr std::size_t rejected_body_cap = 1 << 20;

pqxx::binarystring digest_of(const Delivery& d) {
    return pqxx::binarystring(d.body_sha256.data(), d.body_sha256.size());
}
}  // namespace

void prepare_delivery_statements(pqxx::connection_base& c) {
    for (const auto* query : {&q::claim_digest, &q::insert_delivery_batch, &q::find_delivery_by_hash,
                              &q::insert_rejected_delivery, &q::lock_delivery_ids, &q::repair_delivery_ids})
        prepare(c, *query);
}

std::map<std::string, InsertedDelivery> insert_deliveries(pqxx::transaction_base& tx,
                                                          const std::vector<NewDelivery>& deliveries) {
    // A statement's bodies travel in one bytea parameter, which PostgreSQL caps at 1 GB.
    constexpr std::size_t bytes_per_statement = 64 << 20;
    std::map<std::string, InsertedDelivery> inserted;
    for (std::size_t from = 0; from < deliveries.size();) {
        std::string bodies, digests;
        ArrayLiteral kinds, body_at, sizes, addresses, principals, record_counts, declared, classifications;
        std::size_t to = from;
        for (; to < deliveries.size() && (to == from || bodies.size() + deliveries[to].delivery->body.size() <=
                                                            bytes_per_statement);
             ++to) {
            const NewDelivery& nd = deliveries[to];
            const Delivery& d = *nd.delivery;
            body_at.add(static_cast<std::int64_t>(bodies.size() + 1));  // substring() counts from 1
            bodies += d.body;
            digests.append(reinterpret_cast<const char*>(d.body_sha256.data()), d.body_sha256.size());
            kinds.add(to_string(nd.kind));
            sizes.add(static_cast<std::int64_t>(d.body.size()));
            addresses.add_or_null(d.remote_addr);
            principals.add(d.principal);
            record_counts.add(nd.record_count);
            declared.add_or_null(d.declared_kind ? to_string(*d.declared_kind) : std::string_view());
            classifications.add(nd.classification);
        }
        auto rows = exec_prepared(tx, q::insert_delivery_batch, pqxx::binarystring(bodies),
                                     pqxx::binarystring(digests), std::move(kinds).str(), std::move(body_at).str(),
                                     std::move(sizes).str(), std::move(addresses).str(), std::move(principals).str(),
                                     std::move(record_counts).str(), std::move(declared).str(),
                                     std::move(classifications).str());
        for (const auto& row : rows)
            inserted.emplace(pqxx::binarystring(row[2]).str(),
                             InsertedDelivery{row[0].as<std::int64_t>(), row[1].as<std::string>()});
        from = to;
    }
    return inserted;
}

std::optional<InsertedDelivery> claim_digest(pqxx::transaction_base& tx, const Delivery& d) {
    auto r = exec_prepared(tx, q::claim_digest, digest_of(d));
    if (r.empty()) return std::nullopt;
    return InsertedDelivery{r[0][0].as<std::int64_t>(), r[0][1].as<std::string>()};
}

void copy_delivery(pqxx::dbtransaction& tx, const InsertedDelivery& claimed, const Delivery& d, Kind kind,
                   std::int64_t record_count, const std::string& classification, bool latest_pending) {
    if (record_count < 0 || record_count > std::numeric_limits<std::int32_t>::max())
        throw std::out_of_range("a record count outside deliveries.record_count's integer");
    const std::int64_t received_at = BinaryCopy::timestamptz_microseconds(tx, claimed.received_at);
    BinaryCopy copy(tx, "eventsshop.deliveries",
                    {"id", "received_at", "kind", "body", "body_sha256", "byte_size", "remote_addr", "principal",
                     "record_count", "declared_kind", "classification", "latest_pending"});
    copy.begin_row(12);
    copy.add_bigint(claimed.id);
    copy.add_timestamptz(received_at);
    copy.add_text(to_string(kind));
    copy.add_bytea(d.body);
    copy.add_bytea({reinterpret_cast<const char*>(d.body_sha256.data()), d.body_sha256.size()});
    copy.add_bigint(static_cast<std::int64_t>(d.body.size()));
    copy.add_inet(d.remote_addr);
    copy.add_text(d.principal);
    copy.add_integer(static_cast<std::int32_t>(record_count));
    if (d.declared_kind) copy.add_text(to_string(*d.declared_kind));
    else copy.add_null();
    copy.add_text(classification);
    copy.add_boolean(latest_pending);
    copy.complete();
}

std::optional<StoreOutcome> find_duplicate(pqxx::transaction_base& tx, const Delivery& d) {
    auto r = exec_prepared(tx, q::find_delivery_by_hash, digest_of(d));
    if (r.empty()) return std::nullopt;
    return StoreOutcome::duplicate(r[0][0].as<std::int64_t>(),
                                   kind_from_string(r[0][1].as<std::string>()).value_or(Kind::unclassified),
                                   r[0][2].as<std::int64_t>());
}

StoreOutcome stored_meanwhile(pqxx::connection_base& c, const Delivery& d) {
    pqxx::work tx(c);
    auto dup = find_duplicate(tx, d);
    if (!dup) throw std::runtime_error("the body conflicts with a delivery that cannot be found");
    return *dup;
}

bool is_delivery_id_clash(const std::exception& error) {
    const auto* e = dynamic_cast<const pqxx::sql_error*>(&error);
    if (!e || e->sqlstate() != "23505") return false;
    // libpqxx 6.4 gives no constraint name field: PostgreSQL's message names it in its first line,
    // verbatim in every language (the quotes around it are translated); the DETAIL line holds the key.
    // The name as a whole identifier: not a part of a longer one.
    constexpr std::string_view name = "delivery_digests_delivery_id_key";
    const std::string_view message(e->what());
    const std::string_view first_line = message.substr(0, message.find('\n'));
    auto identifier_char = [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'; };
    for (auto at = first_line.find(name); at != std::string_view::npos; at = first_line.find(name, at + 1)) {
        const auto end = at + name.size();
        if ((at == 0 || !identifier_char(first_line[at - 1])) &&
            (end == first_line.size() || !identifier_char(first_line[end])))
            return true;
    }
    return false;
}

std::int64_t repair_delivery_ids(pqxx::connection_base& c) {
    pqxx::work tx(c);
    exec_prepared(tx, q::lock_delivery_ids);
    const auto last = exec_prepared1(tx, q::repair_delivery_ids)[0].as<std::int64_t>();
    tx.commit();
    return last;
}

std::int64_t insert_rejected(pqxx::transaction_base& tx, const Delivery& d, const std::string& reason) {
    std::size_t kept = std::min(d.body.size(), rejected_body_cap);
    auto row = exec_prepared1(tx, q::insert_rejected_delivery, d.remote_addr, d.principal, d.path,
                                 static_cast<std::int64_t>(d.body.size()), digest_of(d),
                                 pqxx::binarystring(d.body.data(), kept), kept < d.body.size(), reason);
    return row[0].as<std::int64_t>();
}

}  // namespace esr::db
