#include "esr/db/migrations.hpp"

#include "query.hpp"
#include "esr/log.hpp"

#include <pqxx/transaction>

namespace esr::db {

int latest_schema_version() {
    int v = 0;
    for (const auto& m : migrations()) v = std::max(v, m.version);
    return v;
}

int applied_schema_version(pqxx::connection_base& connection) {
    pqxx::read_transaction tx(connection);
    if (!tx.exec(q::schema_migrations_exists.text)[0][0].as<bool>()) return 0;
    return tx.exec(q::applied_schema_version.text)[0][0].as<int>();
}

int migrate(pqxx::connection_base& connection, int up_to) {
    {
        pqxx::work tx(connection);
        tx.exec(q::migration_lock.text);
        tx.exec(q::create_eventsshop_schema.text);
        tx.exec(q::create_schema_migrations.text);
        tx.exec(q::comment_schema_migrations.text);
        tx.commit();
    }
    int applied = 0;
    for (const auto& m : migrations()) {
        if (m.version > up_to) continue;
        pqxx::work tx(connection);
        tx.exec(q::no_statement_timeout.text);  // a migration takes what it takes
        tx.exec(q::migration_lock.text);
        if (!tx.exec_params(q::migration_applied.text, m.version).empty()) continue;
        tx.exec(std::string(m.sql));
        tx.exec_params(q::record_migration.text, m.version, std::string(m.name));
        tx.commit();
        log::info("migration applied", {{"version", m.version}, {"name", m.name}});
        ++applied;
    }
    if (std::min(up_to, latest_schema_version()) >= 3) ensure_partitions(connection);
    return applied;
}

int ensure_partitions(pqxx::connection_base& connection) {
    pqxx::work tx(connection);
    tx.exec(q::partition_lock_timeout.text);
    int made = tx.exec_params(q::ensure_partitions.text, partition_months_ahead)[0][0].as<int>();
    tx.commit();
    if (made > 0) log::info("partitions created", {{"count", made}});
    return made;
}

}  // namespace esr::db
