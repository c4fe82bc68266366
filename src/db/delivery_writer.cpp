#include "esr/db/delivery_writer.hpp"

#include "connection.hpp"
#include "esr/config.hpp"
#include "esr/db/statements.hpp"
#include "esr/log.hpp"

#include <pqxx/binarystring>
#include <pqxx/except>
#include <pqxx/transaction>

#include <chrono>

namespace esr::db {
namespace {

using Status = StoreOutcome::Status;

StoreOutcome store_one(pqxx::work& tx, const Delivery& d) {
    pqxx::binarystring body(d.body.data(), d.body.size());
    pqxx::binarystring digest(d.body_sha256.data(), d.body_sha256.size());
    std::string kind(to_string(d.kind));
    auto inserted = d.remote_addr.empty()
                        ? tx.exec_prepared("insert_delivery", kind, body, digest,
                                           static_cast<std::int64_t>(d.body.size()), nullptr, d.principal)
                        : tx.exec_prepared("insert_delivery", kind, body, digest,
                                           static_cast<std::int64_t>(d.body.size()), d.remote_addr, d.principal);
    if (!inserted.empty()) return {Status::stored, inserted[0][0].as<std::int64_t>(), d.kind, {}};
    auto first = tx.exec_prepared1("find_delivery_by_hash", digest);
    return {Status::duplicate, first[0].as<std::int64_t>(),
            kind_from_string(first[1].as<std::string>()).value_or(Kind::unclassified), {}};
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

bool DeliveryWriter::write_batch(pqxx::connection_base& connection, std::vector<Pending>& batch) {
    std::vector<StoreOutcome> outcomes;
    outcomes.reserve(batch.size());
    bool connection_ok = true;
    auto fail_all = [&](Status status, const std::string& why) {
        outcomes.assign(batch.size(), StoreOutcome{status, 0, Kind::unclassified, why});
    };
    try {
        pqxx::work tx(connection);
        for (const auto& p : batch) outcomes.push_back(store_one(tx, p.delivery));
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
                if (!write_batch(connection, one)) return false;
            }
            return true;
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
