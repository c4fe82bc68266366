#pragma once

#include "esr/kind.hpp"
#include "esr/payload/records.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace esr {

/// One body from an authenticated sender on its way to durable storage.
struct Delivery {
    Kind kind = Kind::unclassified;
    std::optional<Kind> declared_kind;  // named by the path it was posted to
    std::string body;
    std::array<unsigned char, 32> body_sha256{};
    std::string principal;
    std::string remote_addr;
    std::string path;
    payload::Extraction records;  // the typed rows the body yields
    // Non-empty: the body was refused (not JSON, or not the kind its path names). It is kept in
    // eventsshop.rejected_deliveries for diagnosis, not acknowledged as a delivery.
    std::string rejected_because;
};

/// What became of a delivery handed to a DeliverySink.
struct StoreOutcome {
    enum class Status {
        stored,       // committed now
        duplicate,    // the same body was committed before, as `delivery_id`
        unavailable,  // not stored: the database cannot take it now (retry later)
        failed,       // not stored: the database refused it (a defect, not the sender's fault)
    };
    Status status = Status::failed;
    std::int64_t delivery_id = 0;
    Kind kind = Kind::unclassified;
    std::string detail;
    std::int64_t record_count = 0;
};

/// Where the HTTP layer hands deliveries. `done` is called exactly once, from any thread, and
/// only after the outcome is final (for `stored`: after the commit).
class DeliverySink {
public:
    using Callback = std::function<void(StoreOutcome)>;
    virtual ~DeliverySink() = default;
    virtual void submit(Delivery delivery, Callback done) = 0;
};

/// Whether the database is reachable and migrated, as last observed; read without blocking.
class ReadinessProbe {
public:
    virtual ~ReadinessProbe() = default;
    /// Empty when ready, else why not.
    virtual std::string not_ready_reason() const = 0;
};

}  // namespace esr
