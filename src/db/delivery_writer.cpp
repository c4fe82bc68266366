#include "esr/db/delivery_writer.hpp"

#include "connection.hpp"
#include "esr/config.hpp"
#include "esr/db/statements.hpp"
#include "esr/db/typed_rows.hpp"
#include "esr/log.hpp"

#include <pqxx/binarystring>
#include <pqxx/except>
#include <pqxx/transaction>

#include <algorithm>
#include <chrono>

namespace esr::db {
namespace {

using Status = StoreOutcome::Status;

constexpr std::size_t rejected_body_cap = 1 << 20;

StoreOutcome store_rejected(pqxx::work& tx, const Delivery& d) {
    std::size_t kept = std::min(d.body.size(), rejected_body_cap);
    auto row = tx.exec_prepared1("insert_rejected_delivery", d.remote_addr, d.principal, d.path,
                                 static_cast<std::int64_t>(d.body.size()),
                                 pqxx::binarystring(d.body_sha256.data(), d.body_sha256.size()),
                                 pqxx::binarystring(d.body.data(), kept), kept < d.body.size(), d.rejected_because);
    return {Status::stored, row[0].as<std::int64_t>(), d.kind, {}};
}

// `typed` false stores the body alone: the fallback when its typed rows cannot be written, so the
// delivery is still kept (and can be reprocessed once the cause is fixed).
StoreOutcome store_one(pqxx::work& tx, const Delivery& d, bool typed) {
    if (!d.rejected_because.empty()) return store_rejected(tx, d);
    pqxx::binarystring body(d.body.data(), d.body.size());
    pqxx::binarystring digest(d.body_sha256.data(), d.body_sha256.size());
    auto records = typed ? static_cast<std::int64_t>(d.records.record_count()) : 0;
    std::string classification = typed ? d.records.reason : "typed rows not written: see the daemon's log";
    auto inserted = tx.exec_prepared("insert_delivery", std::string(to_string(d.kind)), body, digest,
                                     static_cast<std::int64_t>(d.body.size()), d.remote_addr, d.principal, records,
                                     d.declared_kind ? std::string(to_string(*d.declared_kind)) : std::string(),
                                     classification);
    if (!inserted.empty()) {
        auto id = inserted[0][0].as<std::int64_t>();
        if (typed) write_typed_rows(tx, id, inserted[0][1].as<std::string>(), d.records);
        return {Status::stored, id, d.kind, {}, records};
    }
    auto first = tx.exec_prepared1("find_delivery_by_hash", digest);
    return {Status::duplicate, first[0].as<std::int64_t>(),
            kind_from_string(first[1].as<std::string>()).value_or(Kind::unclassified), {}, first[2].as<std::int64_t>()};
}

// Connection trouble, overload and shutdown are worth a retry by the sender; anything else is not.
bool is_transient(const pqxx::sql_error& e) {
    const std::string state = e.sqlstate();
    return state.rfind("08", 0) == 0 || state.rfind("53", 0) == 0 || state.rfind("57", 0) == 0 ||
           state.rfind("40", 0) == 0;
}

}  // namespace

DeliveryWriter::DeliveryWriter(const Config& config) : config_(config) {}

DeliveryWriter::~DeliveryWriter() { stop(); }

void DeliveryWriter::start() {
    for (unsigned i = 0; i < config_.db_writers; ++i) writers_.emplace_back([this] { run_writer(); });
}

void DeliveryWriter::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : writers_) t.join();
    writers_.clear();
}

void DeliveryWriter::submit(Delivery delivery, Callback done) {
    {
        std::lock_guard lock(mutex_);
        if (!stopping_ && queue_.size() < config_.queue_capacity) {
            queue_.push_back({std::move(delivery), std::move(done)});
            wake_.notify_one();
            return;
        }
    }
    done({Status::unavailable, 0, delivery.kind, stopping_ ? "the daemon is stopping" : "the write queue is full"});
}

void DeliveryWriter::run_writer() {
    std::unique_ptr<pqxx::connection> connection;
    auto retry_at = std::chrono::steady_clock::time_point{};
    auto backoff = std::chrono::milliseconds(100);

    for (;;) {
        std::vector<Pending> batch;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and nothing left to write
            while (!queue_.empty() && batch.size() < config_.batch_max) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }

        if (!connection && std::chrono::steady_clock::now() >= retry_at) {
            try {
                connection = connect(config_, "writer");
                connection->prepare("insert_delivery", sql::insert_delivery);
                connection->prepare("find_delivery_by_hash", sql::find_delivery_by_hash);
                connection->prepare("insert_rejected_delivery", sql::insert_rejected_delivery);
                prepare_typed_statements(*connection);
                backoff = std::chrono::milliseconds(100);
            } catch (const std::exception& e) {
                connection.reset();
                log::warning("database unreachable", {{"error", first_line(e.what())}});
                retry_at = std::chrono::steady_clock::now() + backoff;
                backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
            }
        }
        if (!connection) {
            for (auto& p : batch) p.done({Status::unavailable, 0, p.delivery.kind, "the database is unreachable"});
            continue;
        }
        if (!write_batch(*connection, batch)) connection.reset();
    }
}

bool DeliveryWriter::write_batch(pqxx::connection_base& connection, std::vector<Pending>& batch, bool typed) {
    std::vector<StoreOutcome> outcomes;
    outcomes.reserve(batch.size());
    bool connection_ok = true;
    auto fail_all = [&](Status status, const std::string& why) {
        outcomes.assign(batch.size(), StoreOutcome{status, 0, Kind::unclassified, why});
    };
    try {
        pqxx::work tx(connection);
        for (const auto& p : batch) outcomes.push_back(store_one(tx, p.delivery, typed));
        tx.commit();
    } catch (const pqxx::in_doubt_error& e) {
        // The commit may or may not have happened: not acknowledged, so the sender sends again and
        // the body hash turns the repeat into a duplicate.
        connection_ok = false;
        fail_all(Status::unavailable, "the commit's outcome is unknown");
    } catch (const pqxx::broken_connection& e) {
        connection_ok = false;
        fail_all(Status::unavailable, "the database connection was lost");
    } catch (const pqxx::sql_error& e) {
        connection_ok = connection.is_open();
        if (is_transient(e) || !connection_ok) {
            fail_all(Status::unavailable, first_line(e.what()));
        } else if (batch.size() > 1) {
            // One bad delivery must not fail the rest of its batch: write each alone.
            for (auto& p : batch) {
                std::vector<Pending> one;
                one.push_back(std::move(p));
                if (!write_batch(connection, one, typed)) return false;
            }
            return true;
        } else if (typed && batch[0].delivery.rejected_because.empty()) {
            log::error("typed rows could not be written; keeping the body alone",
                       {{"error", first_line(e.what())}, {"kind", to_string(batch[0].delivery.kind)}});
            return write_batch(connection, batch, false);
        } else {
            log::error("a delivery could not be stored", {{"error", first_line(e.what())}});
            fail_all(Status::failed, first_line(e.what()));
        }
    } catch (const std::exception& e) {
        connection_ok = connection.is_open();
        fail_all(Status::failed, first_line(e.what()));
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (outcomes[i].kind == Kind::unclassified && outcomes[i].status != Status::duplicate)
            outcomes[i].kind = batch[i].delivery.kind;
        batch[i].done(std::move(outcomes[i]));
    }
    if (!connection_ok) log::warning("database connection lost; reconnecting");
    return connection_ok;
}

}  // namespace esr::db
