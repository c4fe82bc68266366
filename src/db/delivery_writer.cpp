#include "esr/db/delivery_writer.hpp"

#include "connection.hpp"
#include "large_delivery.hpp"
#include "store.hpp"
#include "esr/config.hpp"
#include "esr/address.hpp"
#include "esr/heap.hpp"
#include "esr/log.hpp"
#include "esr/spool/spool.hpp"

#include <pqxx/connection>

#include <algorithm>
#include <chrono>
#include <filesystem>

namespace esr::db {
namespace {

using Status = StoreOutcome::Status;

// Drained records are stored a chunk at a time, bounded in count and bytes.
constexpr std::uint64_t drain_chunk_bytes = 16 << 20;

class DrainPaused : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace

DeliveryWriter::DeliveryWriter(const Config& config, Metrics* metrics) : config_(config), metrics_(metrics) {
    if (!config_.state_dir.empty()) {
        std::filesystem::create_directories(config_.state_dir);
        state_lock_ = std::make_unique<spool::StateDirLock>(config_.state_dir);
        spool_ = std::make_unique<spool::Spool>(spool::Spool::Options{
            std::filesystem::path(config_.state_dir) / "spool", config_.spool_max_bytes, config_.max_body_bytes});
    }
}

DeliveryWriter::~DeliveryWriter() { stop(); }

void DeliveryWriter::start() {
    small_.capacity = config_.queue_capacity;
    small_.max_bytes = config_.queue_max_bytes;
    small_.batch_max = config_.batch_max;
    large_.capacity = config_.large_queue_capacity;
    overflow_.capacity = spool_ ? config_.large_queue_capacity : 0;
    for (unsigned i = 0; i < config_.db_writers; ++i) writers_.emplace_back([this] { run_writer(small_); });
    writers_.emplace_back([this] { run_writer(large_); });
    if (spool_) {
        writers_.emplace_back([this] { run_overflow(); });
        drainer_ = std::thread([this] { run_drainer(); });
    }
}

void DeliveryWriter::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    small_.wake.notify_all();
    large_.wake.notify_all();
    overflow_.wake.notify_all();
    drainer_wake_.notify_all();
    for (auto& t : writers_) t.join();
    writers_.clear();
    if (drainer_.joinable()) drainer_.join();
    spool_.reset();  // its last appends are flushed and fsync'd first
    state_lock_.reset();
}

std::size_t DeliveryWriter::queue_depth() const {
    std::lock_guard lock(mutex_);
    return small_.queue.size() + large_.queue.size() + overflow_.queue.size();
}

std::optional<DeliverySink::SpoolDepth> DeliveryWriter::spool_depth() const {
    if (!spool_) return std::nullopt;
    auto d = spool_->depth();
    SpoolDepth out;
    out.records = d.records;
    out.bytes = d.bytes;
    if (d.oldest && d.records > 0)
        out.oldest_age_seconds =
            std::max(0.0, std::chrono::duration<double>(std::chrono::system_clock::now() - *d.oldest).count());
    out.drain_failures = drain_failures_.load();
    out.failing_drains = failing_drains_.load();
    if (out.failing_drains > 0) {
        std::lock_guard lock(mutex_);
        out.drain_error = drain_error_;
    }
    out.quarantined = spool_->quarantined();
    out.corrupt_regions = spool_->corrupt_regions();
    out.in_service = spool_->in_service();
    return out;
}

void DeliveryWriter::spool_or_refuse(Pending&& p, const std::string& why, const std::string& reason) {
    // What would be 400 with PostgreSQL up is 400 with it down: a large body is parsed first (a
    // small one was on arrival), and a refused body is never spooled.
    if (!validate_unparsed(p.delivery)) {
        log::warning("a body was refused while it could not be stored",
                     {{"error", p.delivery.rejected_because}, {"bytes", p.delivery.body.size()}});
        return p.done(StoreOutcome::rejected(p.delivery.rejected_code, p.delivery.rejected_because));
    }
    if (!spool_) return p.done(StoreOutcome::unavailable(why, reason));
    auto kind = p.delivery.kind;
    auto records = static_cast<std::int64_t>(p.delivery.validated_records.value_or(p.delivery.records.record_count()));
    spool_->append(p.delivery, [done = std::move(p.done), why, kind, records](bool durable) {
        done(durable ? StoreOutcome::spooled(kind, records)
                     : StoreOutcome::unavailable(why + ", and the spool cannot take it (full or out of service)",
                                                 "spool_unavailable"));
    });
    {
        std::lock_guard lock(mutex_);
        drain_requested_ = true;  // a notify alone would not end the drainer's wait
    }
    drainer_wake_.notify_one();
}

void DeliveryWriter::submit(Delivery delivery, Callback done) {
    Lane& lane = delivery.unparsed ? large_ : small_;
    const char* refusal = nullptr;  // answered outside the lock
    const char* refusal_reason = "queue_full";
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            refusal = "the daemon is stopping";
            refusal_reason = "stopping";
        } else if (lane.has_room_for(delivery.body.size())) {
            const auto bytes = delivery.body.size();
            lane.queue.push_back({std::move(delivery), std::move(done)});
            lane.bytes += bytes;  // after the push: a push that throws leaves the count right
            lane.wake.notify_one();
            return;
        } else if (delivery.unparsed) {
            // A large body must be parsed before it is spooled: never on a network thread.
            if (overflow_.has_room_for(delivery.body.size())) {
                const auto bytes = delivery.body.size();
                overflow_.queue.push_back({std::move(delivery), std::move(done)});
                overflow_.bytes += bytes;
                overflow_.wake.notify_one();
                return;
            }
            refusal = "the write queue for large deliveries is full";
        }
    }
    if (refusal) return done(StoreOutcome::unavailable(refusal, refusal_reason));
    spool_or_refuse({std::move(delivery), std::move(done)}, "the write queue is full", "queue_full");
}

void DeliveryWriter::run_overflow() {
    for (;;) {
        Pending p;
        {
            std::unique_lock lock(mutex_);
            overflow_.wake.wait(lock, [&] { return stopping_ || !overflow_.queue.empty(); });
            if (overflow_.queue.empty()) return;
            p = std::move(overflow_.queue.front());
            overflow_.queue.pop_front();
            overflow_.bytes -= p.delivery.body.size();
        }
        spool_or_refuse(std::move(p), "the write queue for large deliveries is full", "queue_full");
    }
}

void DeliveryWriter::answer(std::vector<Pending>& batch, std::vector<StoreOutcome>& outcomes) {
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (outcomes[i].status == Status::unavailable)
            spool_or_refuse(std::move(batch[i]), outcomes[i].detail, outcomes[i].reason);
        else batch[i].done(std::move(outcomes[i]));
    }
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
            prepare_store(*connection);
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
                lane.bytes -= batch.back().delivery.body.size();
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
        std::vector<Delivery> deliveries;
        deliveries.reserve(batch.size());
        for (auto& p : batch) deliveries.push_back(std::move(p.delivery));
        auto started = std::chrono::steady_clock::now();
        auto result = store(*connection, deliveries);
        if (metrics_)
            metrics_->commit(std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started));
        for (std::size_t i = 0; i < batch.size(); ++i) batch[i].delivery = std::move(deliveries[i]);
        if (result.connection_lost) connection.reset();
        answer(batch, result.outcomes);
        batch.clear();  // the bodies go now, not after the latest update
        bring_latest_up_to_date();  // after the answer: the derived table need not hold it up
        if (result.holds_large_buffers) connection.reset();
        // What a large delivery freed goes back to the system.
        if (large) heap::release_free_pages();
    }
}

void DeliveryWriter::run_drainer() {
    std::unique_ptr<pqxx::connection> connection;
    auto backoff = config_.spool_drain_interval;
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        drainer_wake_.wait_for(lock, backoff, [&] { return stopping_ || drain_requested_; });
        drain_requested_ = false;
        if (stopping_ || spool_->depth().records == 0) continue;
        lock.unlock();
        std::string failure;
        try {
            if (!connection) {
                connection = connect(config_, "spool drainer");
                prepare_store(*connection);
            }
            bool holds_large_buffers = false;
            while (!stopping()) {
                auto file = spool_->take_for_drain();
                if (!file) break;
                auto n = drain(*connection, *file, holds_large_buffers);
                spool_->finish_drain(*file);
                log::info("spool drained into the database", {{"deliveries", n}});
            }
            // As the large writer: a send buffer libpq grew for a large delivery's statement goes
            // with the connection (not every drain: writers spooling under load wake it often).
            if (holds_large_buffers) connection.reset();
            backoff = config_.spool_drain_interval;
        } catch (const std::exception& e) {
            connection.reset();  // whatever failed, its set-up (statements, stage tables) may be half done
            failure = first_line(e.what());
            backoff = std::min(backoff * 2, std::chrono::milliseconds(10'000));
        }
        lock.lock();
        if (failure.empty()) {
            failing_drains_ = 0;
            drain_error_.clear();
        } else {
            ++drain_failures_;
            auto in_a_row = ++failing_drains_;
            drain_error_ = failure;
            if (in_a_row >= SpoolDepth::failing_drains_when_stuck)
                log::error("spool: draining keeps failing", {{"error", failure}, {"attempts", in_a_row}});
            else
                log::warning("spool: draining paused", {{"error", failure}});
        }
    }
}

std::size_t DeliveryWriter::drain(pqxx::connection_base& connection, const std::filesystem::path& file,
                                  bool& holds_large_buffers) {
    // In order, a chunk at a time, each committed before the next. Stored before a crash or a
    // pause? Then it comes back a duplicate, which is harmless.
    std::vector<Delivery> chunk;
    std::uint64_t chunk_bytes = 0;
    std::size_t drained = 0;
    auto flush = [&] {
        if (chunk.empty()) return;
        auto result = store(connection, chunk, Refused::only_report);
        holds_large_buffers = holds_large_buffers || result.holds_large_buffers;
        for (std::size_t i = 0; i < chunk.size(); ++i) {
            const auto& out = result.outcomes[i];
            switch (out.status) {
                case Status::stored:
                case Status::duplicate:
                case Status::spooled: ++drained; break;
                case Status::unavailable: throw DrainPaused("the database cannot take spooled deliveries now: " + out.detail);
                case Status::rejected:
                case Status::failed:
                    // It was acknowledged, so it is never dropped; but it must not hold up the rest.
                    spool_->quarantine(chunk[i], out.detail);
                    log::error("spool: a record that cannot be stored was quarantined",
                               {{"error", out.detail}, {"bytes", chunk[i].body.size()},
                                {"dir", (std::filesystem::path(config_.state_dir) / "quarantine").string()}});
                    break;
            }
        }
        chunk.clear();
        chunk_bytes = 0;
    };
    spool_->read(file, [&](Delivery&& spooled) {
        // Shutting down: the file stays and is read again from its start next time.
        if (stopping()) throw DrainPaused("the daemon is stopping");
        Delivery d = make_delivery(std::move(spooled.body), spooled.declared_kind, spooled.path, config_);
        d.principal = std::move(spooled.principal);
        // An older daemon spooled the peer's address as it came (an IPv6 zone, or text that is no
        // address), which PostgreSQL's inet refuses: normalised as intake now does it.
        d.remote_addr = client_address(spooled.remote_addr, {}, {});
        if (d.unparsed) flush();  // alone, streaming
        chunk_bytes += d.body.size();
        const bool alone = d.unparsed;
        chunk.push_back(std::move(d));
        if (alone || chunk.size() >= config_.batch_max || chunk_bytes >= drain_chunk_bytes) flush();
        return true;
    });
    flush();
    return drained;
}

}  // namespace esr::db
