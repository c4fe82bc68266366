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
};

/// Whether the database is reachable and migrated, as last observed; read without blocking.
class ReadinessProbe {
public:
    virtual ~ReadinessProbe() = default;
    /// Empty when ready, else why not.
    virtual std::string not_ready_reason() const = 0;
};

}  // namespace esr
