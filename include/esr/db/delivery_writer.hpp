#pragma once

#include "esr/db/spool.hpp"
#include "esr/delivery.hpp"
#include "esr/metrics.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace esr {
struct Config;
}

namespace pqxx {
class connection_base;
}

namespace esr::db {

/// Stores deliveries from a bounded queue on its own writer threads, each owning one connection,
/// so no network thread ever waits on PostgreSQL. A writer takes whatever has queued (up to
/// batch_max) and commits it in one transaction; each caller hears back after that commit.
/// With a state directory, what PostgreSQL cannot take (unreachable, or the queue full) goes to the
/// local spool instead, and a drainer replays the spool into PostgreSQL when it can.
class DeliveryWriter final : public DeliverySink {
public:
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
    // their own so a year-long demand matrix never holds up small deliveries.
    struct Lane {
        std::deque<Pending> queue;
        std::size_t capacity = 0;
        std::size_t batch_max = 1;
        std::condition_variable wake;
    };
    void run_writer(Lane& lane);
    void run_drainer();
    /// Drains one spool file; throws on database trouble (the file stays, to be drained again).
    std::size_t drain(pqxx::connection_base& connection, const std::filesystem::path& file);
    /// Durable in the spool, or unavailable with `why`.
    void spool_or_refuse(Pending&& pending, const std::string& why);
    /// Commits `batch` and answers every caller; false when the connection is no longer usable.
    bool write_batch(pqxx::connection_base& connection, std::vector<Pending>& batch, bool typed = true);

    const Config& config_;
    Metrics* metrics_;
    mutable std::mutex mutex_;
    Lane small_;
    Lane large_;
    bool stopping_ = false;
    std::vector<std::thread> writers_;
    std::unique_ptr<Spool> spool_;
    std::condition_variable drainer_wake_;
    std::thread drainer_;
};

}  // namespace esr::db
