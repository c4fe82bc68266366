#pragma once

#include "esr/delivery.hpp"
#include "esr/metrics.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace esr {
struct Config;
namespace spool {
class Spool;
class StateDirLock;
}  // namespace spool
}  // namespace esr

namespace pqxx {
class connection_base;
}

namespace esr::db {

/// Stores deliveries from bounded queues on its own writer threads, each owning one connection,
/// so no network thread ever waits on PostgreSQL. A writer takes whatever has queued (up to
/// batch_max) and hands it to store() (src/db/store.hpp), the one routine every path uses; each
/// caller hears back after the commit. With a state directory, what PostgreSQL cannot take
/// (unreachable, or the queue full) goes to the local spool instead, once validated, and a drainer
/// replays the spool into PostgreSQL through the same store(); a record that still cannot be
/// stored is quarantined, so it never blocks the ones behind it.
class DeliveryWriter final : public DeliverySink {
public:
    /// Takes the state directory's lock (spool::StateDirInUse if another process holds it).
    explicit DeliveryWriter(const Config& config, Metrics* metrics = nullptr);
    ~DeliveryWriter() override;

    void start();
    /// Lets the writers finish what is queued, then joins them.
    void stop();

    void submit(Delivery delivery, Callback done) override;
    std::optional<SpoolDepth> spool_depth() const override;
    std::size_t queue_depth() const override;

private:
    struct Pending {
        Delivery delivery;
        Callback done;
    };
    // Small deliveries are batched; large ones (parsed here, streaming) have a lane and a writer of
    // their own so a year-long demand matrix never holds up small deliveries. The overflow lane
    // takes large deliveries the large lane has no room for and validates them before spooling,
    // off the network threads.
    struct Lane {
        std::deque<Pending> queue;
        std::size_t capacity = 0;
        // Body bytes waiting: a count alone would let 4096 small deliveries of 1 MiB hold 4 GiB.
        std::uint64_t bytes = 0;
        std::uint64_t max_bytes = UINT64_MAX;  // one delivery is always let in, whatever its size
        bool has_room_for(std::uint64_t body_bytes) const {
            return queue.size() < capacity && (queue.empty() || bytes + body_bytes <= max_bytes);
        }
        std::size_t batch_max = 1;
        std::condition_variable wake;
    };
    bool stopping() const {
        std::lock_guard lock(mutex_);
        return stopping_;
    }
    void run_writer(Lane& lane);
    void run_overflow();
    void run_drainer();
    /// Drains one spool file; throws when the database cannot take a record now (the file stays,
    /// to be drained again: repeats are duplicates).
    /// Sets `holds_large_buffers` when a large delivery's statement grew libpq's buffers (StoreResult).
    std::size_t drain(pqxx::connection_base& connection, const std::filesystem::path& file, bool& holds_large_buffers);
    /// Validated, then durable in the spool; or refused (400) if invalid; or unavailable with `why`.
    /// `why` for the log; `reason` the class the sender hears if the spool cannot take it either.
    void spool_or_refuse(Pending&& pending, const std::string& why, const std::string& reason = "database_unavailable");
    /// Answers every caller of `batch` from what store() made of it; spools what it could not take.
    void answer(std::vector<Pending>& batch, std::vector<StoreOutcome>& outcomes);

    const Config& config_;
    Metrics* metrics_;
    mutable std::mutex mutex_;
    Lane small_;
    Lane large_;
    Lane overflow_;
    bool stopping_ = false;
    std::vector<std::thread> writers_;
    std::unique_ptr<spool::StateDirLock> state_lock_;
    std::unique_ptr<spool::Spool> spool_;
    std::condition_variable drainer_wake_;
    bool drain_requested_ = false;  // under mutex_: something was spooled, drain without waiting
    std::thread drainer_;
    // What /readyz and /metrics say of the drain.
    std::atomic<std::uint64_t> drain_failures_{0};
    std::atomic<unsigned> failing_drains_{0};
    std::string drain_error_;  // under mutex_
};

}  // namespace esr::db
