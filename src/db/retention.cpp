#include "esr/db/retention.hpp"

#include "esr/db/migrations.hpp"
#include "esr/log.hpp"
#include "query.hpp"

#include <chrono>
#include <stdexcept>
#include <optional>
#include <thread>

#include <pqxx/except>
#include <pqxx/result>
#include <pqxx/transaction>

namespace esr::db {
namespace {

constexpr std::int64_t rows_per_delete = 10'000;  // one transaction's worth: no long lock, no huge WAL burst

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

constexpr int lock_attempts = 10;             // each waits prune_lock_timeout.sql's 200 ms for the parent
constexpr auto between_attempts = std::chrono::seconds(1);

/// 55P03: the lock was not granted in time (a long transaction holds the table); 40P01: a deadlock
/// chose this transaction. Both mean: later.
bool table_busy(const std::exception& e) {
    const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e);
    return sql && (sql->sqlstate() == "55P03" || sql->sqlstate() == "40P01");
}

/// Drops one month: true when dropped, false when kept (gone already, or a latest update pending).
/// Throws when the parent's lock is not granted in lock_attempts tries.
bool drop_one(pqxx::connection_base& c, const char* table, const std::string& partition, std::int64_t rows,
              const pqxx::field& first_id, const pqxx::field& last_id) {
    for (int attempt = 1;; ++attempt) {
        try {
            pqxx::work tx(c);
            tx.exec(q::prune_lock_timeout.text);
            bool dropped = tx.exec_params1(q::drop_partition.text, table, partition, rows,
                                           first_id.is_null() ? std::optional<std::int64_t>() : first_id.as<std::int64_t>(),
                                           last_id.is_null() ? std::optional<std::int64_t>() : last_id.as<std::int64_t>())[0]
                               .as<bool>();
            tx.commit();
            return dropped;
        } catch (const pqxx::sql_error& e) {
            if (!table_busy(e) || attempt == lock_attempts) throw;
        }
        std::this_thread::sleep_for(between_attempts);
    }
}

void prune_partitions(pqxx::connection_base& c, const char* table, unsigned days, bool dry_run,
                      const std::function<void(const PruneStep&)>& on_step, std::vector<PruneStep>& steps) {
    pqxx::result listed;
    {
        pqxx::read_transaction tx(c);
        listed = tx.exec_params(q::prunable_partitions.text, table, static_cast<int>(days));
    }
    for (const auto& row : listed) {
        PruneStep s;
        s.table = table;
        s.what = row[0].as<std::string>();
        s.from = row[1].as<std::string>();
        s.to = row[2].as<std::string>();
        s.bytes = row[3].as<std::int64_t>();
        s.rows = row[4].as<std::int64_t>();
        bool busy = false;
        if (!dry_run) {
            try {
                pqxx::result counted;
                {
                    pqxx::read_transaction tx(c);
                    counted = tx.exec_params(q::prune_candidate.text, table, s.what);
                }
                s.rows = counted[0][0].as<std::int64_t>();
                s.done = drop_one(c, table, s.what, s.rows, counted[0][1], counted[0][2]);
                if (s.done)
                    log::info("partition pruned", {{"partition", s.what}, {"rows", s.rows}, {"bytes", s.bytes}});
                else
                    s.kept = "gone already, or a large delivery of that month still has its latest update pending";
            } catch (const std::exception& e) {
                s.error = first_line(e.what());
                busy = table_busy(e);
                log::warning("pruning a partition failed; the next run tries again",
                             {{"partition", s.what}, {"error", s.error}});
            }
        }
        on_step(s);
        steps.push_back(std::move(s));
        // The table stays busy: each further month would hold intake up again; tomorrow's run goes on.
        if (busy) break;
    }
}

void prune_rows(pqxx::connection_base& c, const char* table, const q::Query& count, const q::Query& remove,
                unsigned days, bool dry_run, const std::function<void(const PruneStep&)>& on_step,
                std::vector<PruneStep>& steps) {
    PruneStep s;
    s.table = table;
    s.what = "rows";
    {
        pqxx::read_transaction tx(c);
        auto r = tx.exec_params1(count.text, static_cast<int>(days));
        s.rows = r[0].as<std::int64_t>();
        s.bytes = r[1].as<std::int64_t>();
    }
    if (s.rows == 0) return;
    if (!dry_run) {
        try {
            std::int64_t deleted = 0;
            for (;;) {
                pqxx::work tx(c);
                auto n = tx.exec_params(remove.text, static_cast<int>(days), rows_per_delete).affected_rows();
                tx.commit();
                deleted += static_cast<std::int64_t>(n);
                if (static_cast<std::int64_t>(n) < rows_per_delete) break;
            }
            s.rows = deleted;
            s.done = true;
            log::info("rows pruned", {{"table", table}, {"rows", deleted}});
        } catch (const std::exception& e) {
            s.error = first_line(e.what());
            log::warning("pruning rows failed; the next run tries again", {{"table", table}, {"error", s.error}});
        }
    }
    on_step(s);
    steps.push_back(std::move(s));
}

}  // namespace

std::vector<PruneStep> prune(pqxx::connection_base& connection, const RetentionPolicy& policy, bool dry_run,
                             const std::function<void(const PruneStep&)>& on_step) {
    std::vector<PruneStep> steps;
    // Months judged without the rows still to move (a large delivery's pending latest update among
    // them) could drop what that update needs.
    if (history_move_pending(connection))
        throw std::runtime_error("rows of schema version 2 are still being moved into the partitioned tables: "
                                 "run 'eventsshop-receiver migrate' to finish the move first");
    // Rows the DEFAULT partitions hold go to their months first, where a drop can reach them.
    if (!dry_run && (policy.body_days || policy.demand_history_days)) ensure_partitions(connection);
    if (policy.body_days) prune_partitions(connection, "deliveries", policy.body_days, dry_run, on_step, steps);
    if (policy.demand_history_days) {
        prune_partitions(connection, "hotel_demand", policy.demand_history_days, dry_run, on_step, steps);
        prune_rows(connection, "demand_event_records", q::demand_event_records_before,
                   q::delete_demand_event_records_before, policy.demand_history_days, dry_run, on_step, steps);
    }
    if (policy.rejected_days)
        prune_rows(connection, "rejected_deliveries", q::rejected_before, q::delete_rejected_before,
                   policy.rejected_days, dry_run, on_step, steps);
    return steps;
}

std::vector<PrunedBodies> pruned_bodies(pqxx::connection_base& connection, const std::string& since) {
    pqxx::read_transaction tx(connection);
    std::vector<PrunedBodies> months;
    for (const auto& row : tx.exec_params(q::pruned_bodies.text, since)) {
        PrunedBodies m;
        m.partition = row[0].as<std::string>();
        m.from = row[1].as<std::string>();
        m.to = row[2].as<std::string>();
        m.deliveries = row[3].as<std::int64_t>();
        m.first_id = row[4].as<std::int64_t>(0);
        m.last_id = row[5].as<std::int64_t>(0);
        months.push_back(std::move(m));
    }
    return months;
}

}  // namespace esr::db
