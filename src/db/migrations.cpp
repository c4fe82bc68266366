#include "esr/db/migrations.hpp"

#include "query.hpp"
#include "esr/log.hpp"

#include <pqxx/except>
#include <pqxx/transaction>

#include <atomic>
#include <cstdlib>
#include <string>

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

namespace {

/// The numbered files the database lacks, up to `up_to`, each in its own transaction.
int apply_files(pqxx::connection_base& connection, int up_to) {
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
    return applied;
}

/// A batch's transaction: no statement timeout (a batch of large bodies takes what it takes), and
/// the migrations' advisory lock, so two processes moving at once take turns batch by batch and no
/// batch runs while a migration file does. Not `patient` (the daemon's readiness thread, whose
/// state is not refreshed while it waits), it waits at most a few seconds for a lock, then fails.
void begin_batch(pqxx::work& tx, bool patient) {
    tx.exec(q::no_statement_timeout.text);
    if (!patient) tx.exec(q::partition_lock_timeout.text);
    tx.exec(q::migration_lock.text);
}

std::string page(long long n) { return "(" + std::to_string(n) + ",0)"; }

/// Where this process's demand move goes on from: the daemon moves a few seconds a health check,
/// and starting each at page 0 again would spend them on pages already emptied (on a big table,
/// all of them). Any page is a safe start: the end-of-table probe goes over the table again if rows
/// are left.
std::atomic<long long> demand_resume_page{0};

/// hotel_demand_v2 by ranges of pages; true when it is gone.
bool move_demand(pqxx::connection_base& connection, const std::function<bool()>& go_on, int batch_rows,
                 bool patient, long long& moved) {
    long long next = demand_resume_page.load();  // pages below it were emptied by committed batches
    for (;;) {
        if (go_on && !go_on()) return false;
        pqxx::work tx(connection);
        begin_batch(tx, patient);
        auto span = tx.exec_params(q::history_demand_span.text, batch_rows);
        if (span.empty()) return true;  // another process finished it
        const long long pages = span[0][0].as<long long>();
        const long long per_batch = span[0][1].as<long long>();
        if (next >= pages) {
            // Past the last page. Nothing writes to the old table, so it should be empty; it is
            // dropped only once a probe finds it so, else the pages are gone over again.
            if (tx.exec(q::history_demand_left.text)[0][0].as<bool>()) {
                next = 0;
                demand_resume_page = 0;
                continue;
            }
            tx.exec(q::drop_hotel_demand_v2.text);
            tx.commit();
            demand_resume_page = 0;
            log::info("old demand rows all moved; hotel_demand_v2 dropped");
            return true;
        }
        const std::string lo = page(next), hi = page(next + per_batch);
        tx.exec_params(q::history_demand_partitions.text, lo, hi);
        moved += static_cast<long long>(tx.exec_params(q::move_demand_batch.text, lo, hi).affected_rows());
        tx.commit();
        next += per_batch;
        demand_resume_page = next;
    }
}

/// deliveries_v2 in id order; true when it is gone.
bool move_deliveries(pqxx::connection_base& connection, const std::function<bool()>& go_on, int batch_rows,
                     bool patient, long long& moved) {
    for (;;) {
        if (go_on && !go_on()) return false;
        pqxx::work tx(connection);
        begin_batch(tx, patient);
        if (!tx.exec(q::history_move_pending.text)[0][1].as<bool>()) return true;
        auto n = static_cast<long long>(
            tx.exec_params(q::move_deliveries_batch.text, batch_rows, history_batch_bytes).affected_rows());
        if (n == 0 && !tx.exec(q::history_deliveries_left.text)[0][0].as<bool>()) {
            tx.exec(q::drop_deliveries_v2.text);
            tx.commit();
            log::info("old deliveries all moved; deliveries_v2 dropped");
            return true;
        }
        tx.commit();
        moved += n;
    }
}

/// A batch that finds its old table gone: another process moved its last rows and dropped it (only
/// ever when empty) while this one waited for the lock. The table was still in this transaction's
/// catalog cache, which a wait for an advisory lock does not refresh, so to_regclass still saw it.
template <class Move>
bool unless_dropped_meanwhile(Move&& move_rows) {
    try {
        return move_rows();
    } catch (const pqxx::undefined_table&) {
        return true;
    }
}

bool move(pqxx::connection_base& connection, const std::function<bool()>& go_on, int batch_rows, bool patient) {
    bool demand = false, deliveries = false;
    {
        pqxx::read_transaction tx(connection);
        auto r = tx.exec(q::history_move_pending.text)[0];
        demand = r[0].as<bool>();
        deliveries = r[1].as<bool>();
    }
    if (!demand && !deliveries) return true;
    // Once per `migrate`; the daemon's readiness thread calls this every health check meanwhile.
    log::write(patient ? log::Level::info : log::Level::debug, "moving the version 2 rows into the partitioned tables",
               {{"batch_rows", batch_rows}});
    long long moved_demand = 0, moved_deliveries = 0;
    // Demand rows first: a delivery in the new table then has all its demand rows there too, so
    // reprocess, which deletes a delivery's demand rows by its id and derives them again, never
    // leaves old ones behind in the old table to be moved in beside the new.
    bool done = (!demand || unless_dropped_meanwhile([&] {
                     return move_demand(connection, go_on, batch_rows, patient, moved_demand);
                 })) &&
                (!deliveries || unless_dropped_meanwhile([&] {
                     return move_deliveries(connection, go_on, batch_rows, patient, moved_deliveries);
                 }));
    if (done) {
        pqxx::work tx(connection);
        tx.exec(q::no_statement_timeout.text);
        tx.exec(q::analyze_history.text);
        tx.commit();
    }
    log::write(done ? log::Level::info : log::Level::debug,
               done ? "version 2 rows all moved" : "moving the version 2 rows paused",
               {{"demand_rows", moved_demand}, {"deliveries", moved_deliveries}});
    return done;
}

}  // namespace

bool history_move_pending(pqxx::connection_base& connection) {
    pqxx::read_transaction tx(connection);
    auto r = tx.exec(q::history_move_pending.text)[0];
    return r[0].as<bool>() || r[1].as<bool>();
}

int history_batch_rows() {
    if (const char* v = std::getenv("ESR_MIGRATION_BATCH_ROWS")) {
        try {
            int n = std::stoi(v);
            if (n > 0) return n;
        } catch (const std::exception&) {
        }
        log::warning("ESR_MIGRATION_BATCH_ROWS is not a positive number; using the default",
                     {{"value", v}, {"default", history_batch_rows_default}});
    }
    return history_batch_rows_default;
}

bool move_history(pqxx::connection_base& connection, const std::function<bool()>& go_on, int batch_rows) {
    return move(connection, go_on, batch_rows, true);
}

bool continue_history_move(pqxx::connection_base& connection, std::chrono::milliseconds budget) {
    const auto until = std::chrono::steady_clock::now() + budget;
    try {
        return move(connection, [&] { return std::chrono::steady_clock::now() < until; }, history_batch_rows(), false);
    } catch (const std::exception& e) {
        log::warning("moving the version 2 rows failed; going on at the next check", {{"error", e.what()}});
        return false;
    }
}

int migrate_schema(pqxx::connection_base& connection, int up_to) {
    int applied = apply_files(connection, up_to);
    if (std::min(up_to, latest_schema_version()) >= 3) ensure_partitions(connection);
    return applied;
}

int migrate(pqxx::connection_base& connection, int up_to) {
    int applied = apply_files(connection, up_to);
    if (std::min(up_to, latest_schema_version()) >= 3) {
        move_history(connection);
        ensure_partitions(connection);
    }
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
