#include "esr/db/delivery_writer.hpp"

#include "connection.hpp"
#include "delivery_rows.hpp"
#include "large_delivery.hpp"
#include "esr/config.hpp"
#include "esr/db/typed_rows.hpp"
#include "esr/log.hpp"

#include <pqxx/except>
#include <pqxx/transaction>

#include <algorithm>
#include <filesystem>
#include <map>
#include <chrono>

namespace esr::db {
namespace {

using Status = StoreOutcome::Status;

// Group commit: every delivery of the batch in one statement per table. `typed` false stores the
// bodies alone: the fallback when a delivery's typed rows cannot be written, so it is still kept
// (and can be reprocessed once the cause is fixed).
template <class Batch>
std::vector<StoreOutcome> store_batch(pqxx::work& tx, const Batch& batch, bool typed) {
    std::vector<StoreOutcome> out(batch.size());
    std::vector<NewDelivery> fresh;
    std::vector<std::size_t> fresh_index;
    std::map<std::string, std::size_t> first_with_body;  // digest -> index: a body twice in one batch
    std::vector<std::optional<std::size_t>> same_as(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const Delivery& d = batch[i].delivery;
        if (!d.rejected_because.empty()) {
            out[i] = StoreOutcome::stored(insert_rejected(tx, d, d.rejected_because), d.kind, 0);
            continue;
        }
        std::string digest(reinterpret_cast<const char*>(d.body_sha256.data()), d.body_sha256.size());
        if (auto [it, first] = first_with_body.try_emplace(digest, i); !first) {
            same_as[i] = it->second;
            continue;
        }
        fresh.push_back({&d, d.kind, typed ? static_cast<std::int64_t>(d.records.record_count()) : 0,
                         typed ? d.records.reason : "typed rows not written: see the daemon's log"});
        fresh_index.push_back(i);
    }
    auto inserted = insert_deliveries(tx, fresh);
    std::vector<DeliveryRows> rows;
    for (std::size_t k = 0; k < fresh.size(); ++k) {
        const std::size_t i = fresh_index[k];
        const Delivery& d = batch[i].delivery;
        auto it = inserted.find(std::string(reinterpret_cast<const char*>(d.body_sha256.data()), d.body_sha256.size()));
        if (it == inserted.end()) {
            auto dup = find_duplicate(tx, d);
            if (!dup) throw std::runtime_error("the body conflicts with a delivery that cannot be found");
            out[i] = *dup;
            continue;
        }
        out[i] = StoreOutcome::stored(it->second.id, d.kind, fresh[k].record_count);
        if (typed) rows.push_back({it->second.id, it->second.received_at, &d.records});
    }
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.delivery_id < b.delivery_id; });
    write_typed_rows(tx, rows);
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (!same_as[i]) continue;
        const StoreOutcome& first = out[*same_as[i]];
        out[i] = StoreOutcome::duplicate(first.delivery_id, first.kind, first.record_count);
    }
    return out;
}

// Connection trouble, overload and shutdown are worth a retry by the sender; anything else is not.
bool is_transient(const pqxx::sql_error& e) {
    const std::string state = e.sqlstate();
    return state.rfind("08", 0) == 0 || state.rfind("53", 0) == 0 || state.rfind("57", 0) == 0 ||
           state.rfind("40", 0) == 0;
}

}  // namespace

DeliveryWriter::DeliveryWriter(const Config& config, Metrics* metrics) : config_(config), metrics_(metrics) {
    if (!config_.state_dir.empty())
        spool_ = std::make_unique<Spool>(Spool::Options{.dir = std::filesystem::path(config_.state_dir) / "spool",
                                                        .max_bytes = config_.spool_max_bytes,
                                                        .max_record_bytes = config_.max_body_bytes});
}

DeliveryWriter::~DeliveryWriter() { stop(); }

void DeliveryWriter::start() {
    small_.capacity = config_.queue_capacity;
    small_.batch_max = config_.batch_max;
    large_.capacity = config_.large_queue_capacity;
    large_.batch_max = 1;
    for (unsigned i = 0; i < config_.db_writers; ++i) writers_.emplace_back([this] { run_writer(small_); });
    writers_.emplace_back([this] { run_writer(large_); });
    if (spool_) drainer_ = std::thread([this] { run_drainer(); });
}

void DeliveryWriter::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    small_.wake.notify_all();
    large_.wake.notify_all();
    drainer_wake_.notify_all();
    for (auto& t : writers_) t.join();
    writers_.clear();
    if (drainer_.joinable()) drainer_.join();
    spool_.reset();  // its last appends are flushed and fsync'd first
}

std::size_t DeliveryWriter::queue_depth() const {
    std::lock_guard lock(mutex_);
    return small_.queue.size() + large_.queue.size();
}

std::optional<DeliverySink::SpoolDepth> DeliveryWriter::spool_depth() const {
    if (!spool_) return std::nullopt;
    auto d = spool_->depth();
    return SpoolDepth{d.records, d.bytes};
}

void DeliveryWriter::spool_or_refuse(Pending&& p, const std::string& why) {
    if (!spool_ || !p.delivery.rejected_because.empty()) return p.done(StoreOutcome::unavailable(why));
    auto kind = p.delivery.kind;
    auto records = static_cast<std::int64_t>(p.delivery.records.record_count());
    spool_->append(p.delivery, [done = std::move(p.done), why, kind, records](bool durable) {
        done(durable ? StoreOutcome::spooled(kind, records) : StoreOutcome::unavailable(why + ", and the spool is full"));
    });
    drainer_wake_.notify_one();
}

void DeliveryWriter::submit(Delivery delivery, Callback done) {
    Lane& lane = delivery.unparsed ? large_ : small_;
    bool stopping = false;
    {
        std::lock_guard lock(mutex_);
        stopping = stopping_;
        if (!stopping_ && lane.queue.size() < lane.capacity) {
            lane.queue.push_back({std::move(delivery), std::move(done)});
            lane.wake.notify_one();
            return;
        }
    }
    if (stopping) return done(StoreOutcome::unavailable("the daemon is stopping"));
    spool_or_refuse({std::move(delivery), std::move(done)}, "the write queue is full");
}

void DeliveryWriter::run_writer(Lane& lane) {
    const bool large = &lane == &large_;
    std::unique_ptr<pqxx::connection> connection;
    auto retry_at = std::chrono::steady_clock::time_point{};
    auto backoff = std::chrono::milliseconds(100);
    auto ensure_connection = [&] {
        if (connection || std::chrono::steady_clock::now() < retry_at) return;
        try {
            connection = connect(config_, large ? "large writer" : "writer");
            prepare_delivery_statements(*connection);
            prepare_typed_statements(*connection);
            if (large) prepare_large_delivery(*connection);
            backoff = std::chrono::milliseconds(100);
        } catch (const std::exception& e) {
            connection.reset();
            log::warning("database unreachable", {{"error", first_line(e.what())}});
            retry_at = std::chrono::steady_clock::now() + backoff;
            backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
        }
    };
    // The large lane keeps hotel_demand_latest up to date after each answer, and between
    // deliveries retries what a crash or a lost connection left pending.
    auto bring_latest_up_to_date = [&] {
        if (!large || !connection) return;
        try {
            apply_pending_latest(*connection);
        } catch (const std::exception& e) {
            log::warning("hotel_demand_latest not brought up to date yet", {{"error", first_line(e.what())}});
            connection.reset();
        }
    };

    for (;;) {
        std::vector<Pending> batch;
        {
            std::unique_lock lock(mutex_);
            auto ready = [&] { return stopping_ || !lane.queue.empty(); };
            if (large) lane.wake.wait_for(lock, config_.health_interval, ready);
            else lane.wake.wait(lock, ready);
            if (lane.queue.empty() && stopping_) return;  // nothing left to write
            while (!lane.queue.empty() && batch.size() < lane.batch_max) {
                batch.push_back(std::move(lane.queue.front()));
                lane.queue.pop_front();
            }
        }
        ensure_connection();
        if (batch.empty()) {
            bring_latest_up_to_date();
            continue;
        }
        if (!connection) {
            for (auto& p : batch) spool_or_refuse(std::move(p), "the database is unreachable");
            continue;
        }
        if (!write_batch(*connection, batch)) {
            connection.reset();
            continue;
        }
        bring_latest_up_to_date();  // after the answer: the derived table need not hold it up
    }
}

bool DeliveryWriter::write_batch(pqxx::connection_base& connection, std::vector<Pending>& batch, bool typed) {
    std::vector<StoreOutcome> outcomes;
    bool connection_ok = true;
    std::string unavailable;  // set: not stored for a reason worth a retry (so: spool it)
    auto fail_all = [&](const std::string& why) { outcomes.assign(batch.size(), StoreOutcome::failed(why)); };
    try {
        auto started = std::chrono::steady_clock::now();
        if (batch.size() == 1 && batch[0].delivery.unparsed) {
            outcomes.push_back(store_large_delivery(connection, batch[0].delivery));
        } else {
            pqxx::work tx(connection);
            outcomes = store_batch(tx, batch, typed);
            tx.commit();
        }
        if (metrics_)
            metrics_->commit(std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started));
    } catch (const pqxx::in_doubt_error& e) {
        // The commit may or may not have happened. Not acknowledged as stored: spooled (or retried
        // by the sender), the body hash turns a repeat into a duplicate.
        connection_ok = false;
        unavailable = "the commit's outcome is unknown";
    } catch (const pqxx::broken_connection& e) {
        connection_ok = false;
        unavailable = "the database connection was lost";
    } catch (const pqxx::sql_error& e) {
        connection_ok = connection.is_open();
        if (is_transient(e) || !connection_ok) {
            unavailable = first_line(e.what());
        } else if (batch.size() > 1) {
            // One bad delivery must not fail the rest of its batch: write each alone.
            for (auto& p : batch) {
                std::vector<Pending> one;
                one.push_back(std::move(p));
                if (!write_batch(connection, one, typed)) return false;
            }
            return true;
        } else if (typed && batch[0].delivery.rejected_because.empty() && !batch[0].delivery.unparsed) {
            log::error("typed rows could not be written; keeping the body alone",
                       {{"error", first_line(e.what())}, {"kind", to_string(batch[0].delivery.kind)}});
            return write_batch(connection, batch, false);
        } else {
            log::error("a delivery could not be stored", {{"error", first_line(e.what())}});
            fail_all(first_line(e.what()));
        }
    } catch (const std::exception& e) {
        connection_ok = connection.is_open();
        fail_all(first_line(e.what()));
    }
    if (!connection_ok) log::warning("database connection lost; reconnecting");
    if (!unavailable.empty()) {
        for (auto& p : batch) spool_or_refuse(std::move(p), unavailable);
        return connection_ok;
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (outcomes[i].kind == Kind::unclassified && outcomes[i].status != Status::duplicate)
            outcomes[i].kind = batch[i].delivery.kind;
        batch[i].done(std::move(outcomes[i]));
    }
    return connection_ok;
}

void DeliveryWriter::run_drainer() {
    std::unique_ptr<pqxx::connection> connection;
    auto backoff = config_.spool_drain_interval;
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        drainer_wake_.wait_for(lock, backoff, [&] { return stopping_; });
        if (stopping_ || spool_->depth().records == 0) continue;
        lock.unlock();
        try {
            if (!connection) {
                connection = connect(config_, "spool drainer");
                prepare_delivery_statements(*connection);
                prepare_typed_statements(*connection);
                prepare_large_delivery(*connection);
            }
            while (auto file = spool_->take_for_drain()) {
                auto n = drain(*connection, *file);
                spool_->finish_drain(*file);
                log::info("spool drained into the database", {{"deliveries", n}});
            }
            backoff = config_.spool_drain_interval;
        } catch (const std::exception& e) {
            connection.reset();
            log::warning("spool: draining paused", {{"error", first_line(e.what())}});
            backoff = std::min(backoff * 2, std::chrono::milliseconds(10'000));
        }
        lock.lock();
    }
}

std::size_t DeliveryWriter::drain(pqxx::connection_base& connection, const std::filesystem::path& file) {
    // In order, a batch at a time; each committed before the next. Stored before a crash? Then it
    // comes back a duplicate, which is harmless.
    std::vector<Pending> chunk;
    std::size_t drained = 0;
    auto ignore = [](StoreOutcome) {};
    auto flush = [&] {
        if (chunk.empty()) return;
        pqxx::work tx(connection);
        store_batch(tx, chunk, true);
        tx.commit();
        drained += chunk.size();
        chunk.clear();
    };
    spool_->read(file, [&](Delivery&& spooled) {
        Delivery d = make_delivery(std::move(spooled.body), spooled.declared_kind, spooled.path, config_);
        d.principal = std::move(spooled.principal);
        d.remote_addr = std::move(spooled.remote_addr);
        if (d.unparsed) {
            flush();
            auto out = store_large_delivery(connection, d);
            if (out.status == Status::rejected) log::warning("spool: a spooled body was refused", {{"error", out.detail}});
            ++drained;
        } else {
            chunk.push_back({std::move(d), ignore});
            if (chunk.size() >= config_.batch_max) flush();
        }
        return true;
    });
    flush();
    return drained;
}

}  // namespace esr::db
