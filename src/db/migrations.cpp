#include "esr/db/migrations.hpp"

#include "esr/db/statements.hpp"
#include "esr/log.hpp"

#include <pqxx/transaction>

namespace esr::db {
namespace {
// Any constant will do, as long as every daemon uses the same one.
constexpr long long migration_lock_key = 0x6573725f6d6967;  // "esr_mig"
}  // namespace

int latest_schema_version() {
    int v = 0;
    for (const auto& m : migrations()) v = std::max(v, m.version);
    return v;
}

int applied_schema_version(pqxx::connection_base& connection) {
    pqxx::read_transaction tx(connection);
    if (!tx.exec(sql::schema_migrations_exists)[0][0].as<bool>()) return 0;
    return tx.exec(sql::applied_schema_version)[0][0].as<int>();
}

int migrate(pqxx::connection_base& connection) {
    {
        pqxx::work tx(connection);
        tx.exec_params("SELECT pg_advisory_xact_lock($1)", migration_lock_key);
        tx.exec("CREATE SCHEMA IF NOT EXISTS eventsshop");
        tx.exec("CREATE TABLE IF NOT EXISTS eventsshop.schema_migrations ("
                " version integer PRIMARY KEY,"
                " name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())");
        tx.exec("COMMENT ON TABLE eventsshop.schema_migrations IS "
                "'Which numbered files of schema/ have been applied; written by eventsshop-receiver migrate.'");
        tx.commit();
    }
    int applied = 0;
    for (const auto& m : migrations()) {
        pqxx::work tx(connection);
        tx.exec("SET LOCAL statement_timeout = 0");  // a migration takes what it takes
        tx.exec_params("SELECT pg_advisory_xact_lock($1)", migration_lock_key);
        if (!tx.exec_params("SELECT 1 FROM eventsshop.schema_migrations WHERE version = $1", m.version).empty())
            continue;
        tx.exec(std::string(m.sql));
        tx.exec_params("INSERT INTO eventsshop.schema_migrations (version, name) VALUES ($1, $2)", m.version,
                       std::string(m.name));
        tx.commit();
        log::info("migration applied", {{"version", m.version}, {"name", m.name}});
        ++applied;
    }
    return applied;
}

}  // namespace esr::db
