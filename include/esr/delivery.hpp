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
    std::string rejected_code;  // invalid_json, kind_mismatch
    // True: the body is large and was not parsed yet; the writer's large lane parses it, streaming.
    bool unparsed = false;
};

/// What became of a delivery handed to a DeliverySink.
struct StoreOutcome {
    enum class Status {
        stored,       // committed now
        duplicate,    // the same body was committed before, as `delivery_id`
        unavailable,  // not stored: the database cannot take it now (retry later)
        failed,       // not stored: the database refused it (a defect, not the sender's fault)
        rejected,     // refused as the sender's fault (see error_code, detail) and kept for diagnosis
        spooled,      // durable in the local spool; PostgreSQL gets it when it can
    };
    Status status = Status::failed;
    std::int64_t delivery_id = 0;
    Kind kind = Kind::unclassified;
    std::string detail;
    std::int64_t record_count = 0;
    std::string error_code;  // for `rejected`: invalid_json, kind_mismatch

    static StoreOutcome stored(std::int64_t id, Kind kind, std::int64_t records) {
        return with(Status::stored, id, kind, records);
    }
    static StoreOutcome duplicate(std::int64_t id, Kind kind, std::int64_t records) {
        return with(Status::duplicate, id, kind, records);
    }
    static StoreOutcome spooled(Kind kind, std::int64_t records) { return with(Status::spooled, 0, kind, records); }
    static StoreOutcome unavailable(std::string why) { return why_not(Status::unavailable, std::move(why)); }
    static StoreOutcome failed(std::string why) { return why_not(Status::failed, std::move(why)); }
    static StoreOutcome rejected(std::string code, std::string why) {
        auto out = why_not(Status::rejected, std::move(why));
        out.error_code = std::move(code);
        return out;
    }

private:
    static StoreOutcome with(Status s, std::int64_t id, Kind kind, std::int64_t records) {
        StoreOutcome out;
        out.status = s;
        out.delivery_id = id;
        out.kind = kind;
        out.record_count = records;
        return out;
    }
    static StoreOutcome why_not(Status s, std::string why) {
        StoreOutcome out;
        out.status = s;
        out.detail = std::move(why);
        return out;
    }
};

/// Where the HTTP layer hands deliveries. `done` is called exactly once, from any thread, and
/// only after the outcome is final (for `stored`: after the commit).
class DeliverySink {
public:
    using Callback = std::function<void(StoreOutcome)>;
    virtual ~DeliverySink() = default;
    virtual void submit(Delivery delivery, Callback done) = 0;

    struct SpoolDepth {
        std::uint64_t records = 0;
        std::uint64_t bytes = 0;
    };
    /// What waits in the local spool, if there is one.
    virtual std::optional<SpoolDepth> spool_depth() const { return std::nullopt; }
    /// Deliveries handed over and not yet written.
    virtual std::size_t queue_depth() const { return 0; }
};

struct Config;

/// A delivery from a body as it arrived: parsed and its rows extracted, or refused (not JSON, or
/// not the kind its path names: rejected_because says why), or, from config.large_body_bytes,
/// left unparsed for the writer's large lane. Sender fields (principal, address, path) are the
/// caller's to fill.
Delivery make_delivery(std::string body, std::optional<Kind> declared, const std::string& path,
                       const Config& config);

/// Whether the database is reachable and migrated, as last observed; read without blocking.
class ReadinessProbe {
public:
    virtual ~ReadinessProbe() = default;
    /// Empty when ready, else why not.
    virtual std::string not_ready_reason() const = 0;
};

}  // namespace esr
