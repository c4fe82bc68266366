#pragma once

#include "esr/delivery.hpp"

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace esr {
struct Config;
}

namespace esr::db {

/// Polls the database on its own thread and remembers whether it is reachable and migrated, so
/// /readyz answers from memory instead of blocking a network thread on a query.
class ReadinessMonitor final : public ReadinessProbe {
public:
    explicit ReadinessMonitor(const Config& config);
    ~ReadinessMonitor() override;

    /// Checks once synchronously (so the first answer is not a guess), then keeps polling.
    void start();
    void stop();

    std::string not_ready_reason() const override;
    std::string not_ready_class() const override;

private:
    void run();

    const Config& config_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::string reason_ = "not checked yet";
    std::string class_ = "database_unavailable";
    bool checked_once_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace esr::db
