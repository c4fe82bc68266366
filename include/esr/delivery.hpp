#pragma once

#include "esr/kind.hpp"
#include "esr/payload/records.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <type_traits>
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
    // A large body checked by validate_unparsed(): its record count (the rows were not kept).
    std::optional<std::size_t> validated_records;
};

namespace payload {
struct JsonSyntaxError;
struct KindMismatch;
}  // namespace payload

/// Why a body is refused (400), worded in one place for every lane and for reprocess.
struct Refusal {
    std::string code;    // invalid_json, kind_mismatch
    std::string reason;  // for the sender and the log
};
Refusal invalid_json(const payload::JsonSyntaxError& error);
Refusal kind_mismatch(const payload::KindMismatch& error, std::string_view path);

/// Parses a large (unparsed) body without keeping its rows: its syntax, and its kind against the
/// path. Sets kind and validated_records, or rejected_code and rejected_because and returns
/// false; false too for a body already refused on arrival. Run before a large body is acknowledged from the spool, so a body that would be 400 with
/// PostgreSQL up is 400 with it down too, and the spool only ever holds bodies that can be stored.
bool validate_unparsed(Delivery& delivery);

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
    std::string detail;  // for the log: may hold PostgreSQL's text (hosts, roles, tables)
    // unavailable, failed: what the sender is told instead, a class ("database_unavailable",
    // "queue_full", "spool_unavailable", "stopping", "database_refused").
    std::string reason;
    std::int64_t record_count = 0;
    std::string error_code;  // for `rejected`: invalid_json, kind_mismatch

    static StoreOutcome stored(std::int64_t id, Kind kind, std::int64_t records) {
        return with(Status::stored, id, kind, records);
    }
    static StoreOutcome duplicate(std::int64_t id, Kind kind, std::int64_t records) {
        return with(Status::duplicate, id, kind, records);
    }
    static StoreOutcome spooled(Kind kind, std::int64_t records) { return with(Status::spooled, 0, kind, records); }
    static StoreOutcome unavailable(std::string why, std::string reason = "database_unavailable") {
        auto out = why_not(Status::unavailable, std::move(why));
        out.reason = std::move(reason);
        return out;
    }
    static StoreOutcome failed(std::string why) {
        auto out = why_not(Status::failed, std::move(why));
        out.reason = "database_refused";
        return out;
    }
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

/// The answer owed to one sender: called at most once (a second call does nothing), from any
/// thread, only when the outcome is final. Copies share one answer; if the last copy goes away
/// uncalled (a path that forgot a delivery, an exception between hand-offs), the sender still
/// hears back: 503 "unavailable", so it retries, rather than a closed connection or an endless
/// wait. In the spirit of Vector's finalizers, which report on drop.
class Reply {
public:
    Reply() = default;
    template <class F>
        requires(!std::is_same_v<std::remove_cvref_t<F>, Reply> && std::is_invocable_v<F&, StoreOutcome>)
    Reply(F&& answer) : state_(std::make_shared<State>(std::function<void(StoreOutcome)>(std::forward<F>(answer)))) {}

    void operator()(StoreOutcome outcome) const {
        if (state_) state_->answer(std::move(outcome));
    }

private:
    struct State {
        explicit State(std::function<void(StoreOutcome)> f) : answer_once(std::move(f)) {}
        ~State() {
            if (answer_once)
                answer(StoreOutcome::unavailable("the delivery was not stored (it was dropped inside the daemon)"));
        }
        void answer(StoreOutcome outcome) {
            std::function<void(StoreOutcome)> f;
            {
                std::lock_guard lock(mutex);
                f.swap(answer_once);
            }
            if (f) f(std::move(outcome));
        }
        std::mutex mutex;
        std::function<void(StoreOutcome)> answer_once;
    };
    std::shared_ptr<State> state_;
};

/// Where the HTTP layer hands deliveries. `done` is called exactly once, from any thread, and
/// only after the outcome is final (for `stored`: after the commit).
class DeliverySink {
public:
    using Callback = Reply;
    virtual ~DeliverySink() = default;
    virtual void submit(Delivery delivery, Callback done) = 0;

    struct SpoolDepth {
        std::uint64_t records = 0;
        std::uint64_t bytes = 0;
        double oldest_age_seconds = 0;     // how long the oldest waiting record has waited
        std::uint64_t drain_failures = 0;  // drain attempts that failed, since start
        unsigned failing_drains = 0;       // of them in a row, up to now (0: draining works)
        std::string drain_error;           // the last failure's reason, while failing
        std::uint64_t quarantined = 0;     // records set aside, since start (see docs/bad-input.md)
        std::uint64_t corrupt_regions = 0; // damaged stretches of spool files moved aside, since start
        bool in_service = true;            // false: a write could not be undone; appends refused

        static constexpr unsigned failing_drains_when_stuck = 3;
        /// Why /readyz says not ready on the spool's account; empty when it works.
        /// What keeps the spool from doing its job, as a class fit for a public answer (the
        /// writer logs the error itself); empty when nothing does.
        std::string_view trouble_class() const {
            if (!in_service) return "spool_out_of_service";
            if (failing_drains >= failing_drains_when_stuck) return "spool_not_draining";
            return {};
        }
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
    /// Empty when ready, else why not (for the log: it may name hosts, ports and users).
    virtual std::string not_ready_reason() const = 0;
    /// The same as a class fit for a public answer: "database_unavailable", "schema_behind", "schema_ahead".
    virtual std::string not_ready_class() const { return not_ready_reason().empty() ? "" : "database_unavailable"; }
};

}  // namespace esr
