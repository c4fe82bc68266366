#include "store.hpp"

#include "esr/db/migrations.hpp"

#include "connection.hpp"
#include "delivery_rows.hpp"
#include "large_delivery.hpp"
#include "query.hpp"
#include "typed_rows.hpp"
#include "esr/log.hpp"

#include <pqxx/except>
#include <pqxx/transaction>

#include <algorithm>
#include <stdexcept>
#include <map>
#include <optional>

namespace esr::db {
namespace {

using Status = StoreOutcome::Status;

std::string digest_key(const Delivery& d) {
    return std::string(reinterpret_cast<const char*>(d.body_sha256.data()), d.body_sha256.size());
}

StoreOutcome refused_outcome(const Delivery& d) { return StoreOutcome::rejected(d.rejected_code, d.rejected_because); }

// Group commit: every delivery of the batch in one statement per table. `typed` false stores the
// bodies alone (the fallback when typed rows cannot be written).
std::vector<StoreOutcome> store_batch(pqxx::work& tx, std::span<Delivery> batch, bool typed, Refused refused,
                                      const std::string& why_untyped) {
    std::vector<StoreOutcome> out(batch.size());
    std::vector<NewDelivery> fresh;
    std::vector<std::size_t> fresh_index;
    std::map<std::string, std::size_t> first_with_body;  // digest -> index: a body twice in one batch
    std::vector<std::optional<std::size_t>> same_as(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const Delivery& d = batch[i];
        if (!d.rejected_because.empty()) {
            out[i] = refused_outcome(d);
            if (refused == Refused::keep_in_database) insert_rejected(tx, d, d.rejected_because);
            continue;
        }
        if (auto [it, first] = first_with_body.try_emplace(digest_key(d), i); !first) {
            same_as[i] = it->second;
            continue;
        }
        fresh.push_back({&d, d.kind, typed ? static_cast<std::int64_t>(d.records.record_count()) : 0,
                         typed ? d.records.reason : "typed rows not written: " + why_untyped});
        fresh_index.push_back(i);
    }
    auto inserted = insert_deliveries(tx, fresh);
    std::vector<DeliveryRows> rows;
    for (std::size_t k = 0; k < fresh.size(); ++k) {
        const std::size_t i = fresh_index[k];
        const Delivery& d = batch[i];
        auto it = inserted.find(digest_key(d));
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
        out[i] = first.status == Status::rejected
                     ? first
                     : StoreOutcome::duplicate(first.delivery_id, first.kind, first.record_count);
    }
    return out;
}

// What a failed attempt means for the deliveries in it.
enum class Failure {
    connection_lost,  // or the commit's outcome is unknown: not stored as far as anyone can tell
    transient,        // overload, deadlock, shutdown: worth another try later
    content,          // this delivery's data was refused (a data exception, a constraint, a trigger)
    environment,      // the database will not take writes now (read-only, privileges, a missing
                      // table mid-migration, a statement timeout): not this delivery's fault
    ids_behind,       // the id drawn names a stored delivery (delivery_ids set back), and moving
                      // the sequence on did not help (repairing()): not this delivery's fault
};

Failure classify(pqxx::connection_base& c, std::exception_ptr error) {
    try {
        std::rethrow_exception(error);
    } catch (const pqxx::in_doubt_error&) {
        return Failure::connection_lost;
    } catch (const pqxx::broken_connection&) {
        return Failure::connection_lost;
    } catch (const pqxx::sql_error& e) {
        if (!c.is_open()) return Failure::connection_lost;
        const std::string state = e.sqlstate();
        auto in_class = [&](const char* cls) { return state.rfind(cls, 0) == 0; };
        if (in_class("08")) return Failure::connection_lost;
        // 57014: a statement timeout (or cancel). The same statement would time out again: not a
        // reason to spool a body PostgreSQL is up to take; but not the body's fault either.
        if (state == "57014") return Failure::environment;
        if (in_class("40") || in_class("53") || in_class("57")) return Failure::transient;
        if (is_delivery_id_clash(e)) return Failure::ids_behind;  // before the constraints' class
        // Data exceptions, integrity constraints, what a trigger raised.
        if (in_class("22") || in_class("23") || in_class("P0") || in_class("2F") || in_class("38") ||
            in_class("39"))
            return Failure::content;
        return Failure::environment;
    } catch (const std::exception&) {
        // libpqxx 6.4 throws plain pqxx::failure when a COPY's connection drops.
        return c.is_open() ? Failure::environment : Failure::connection_lost;
    }
}

std::string message_of(std::exception_ptr error) {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return first_line(e.what());
    } catch (...) {
        return "unknown error";
    }
}

// The body alone, as a delivery of its kind with no typed rows: kept, and rebuildable later.
StoreOutcome store_body_alone(pqxx::connection_base& c, Delivery& d, const std::string& why) {
    pqxx::work tx(c);
    // A body of hundreds of MB may take longer than --statement-timeout to send; timing it out would
    // spool a body PostgreSQL can take, and stall the drain on it.
    tx.exec(q::no_statement_timeout.text);
    if (auto dup = find_duplicate(tx, d)) return *dup;
    auto claimed = claim_digest(tx, d);
    if (!claimed) {
        tx.abort();
        return stored_meanwhile(c, d);
    }
    copy_delivery(tx, *claimed, d, d.kind, 0, "typed rows not written: " + why, false);
    tx.commit();
    return StoreOutcome::stored(claimed->id, d.kind, 0);
}

// Attempts at one transaction before giving up on an id sequence that stays behind: a repair
// makes the next one succeed, unless it is set back again meanwhile (or another repair races it).
constexpr int id_repairs_per_attempt = 2;

class Storer {
public:
    Storer(pqxx::connection_base& c, Refused refused) : c_(c), refused_(refused) {}

    StoreResult run(std::span<Delivery> deliveries) {
        result_.outcomes.assign(deliveries.size(), StoreOutcome::unavailable("not attempted"));
        bool any_large = std::any_of(deliveries.begin(), deliveries.end(), [](const Delivery& d) { return d.unparsed; });
        if (any_large) {
            for (std::size_t i = 0; i < deliveries.size() && !result_.connection_lost; ++i) alone(deliveries[i], i);
        } else {
            together(deliveries);
        }
        if (result_.connection_lost)
            for (auto& o : result_.outcomes)
                if (o.status == Status::unavailable && o.detail == "not attempted")
                    o = StoreOutcome::unavailable("the database connection was lost");
        for (std::size_t i = 0; i < deliveries.size(); ++i) {
            auto& o = result_.outcomes[i];
            if (o.kind == Kind::unclassified && o.status != Status::duplicate) o.kind = deliveries[i].kind;
        }
        return std::move(result_);
    }

private:
    // Runs `attempt` (a transaction of its own, rolled back when it throws); if it failed on an id
    // a stored delivery has, moves the sequence past them and runs it again, a bounded number of
    // times. Returns what it failed with in the end, or nothing.
    template <class Attempt>
    std::exception_ptr repairing(Attempt&& attempt) {
        for (int repairs = 0;; ++repairs) {
            std::exception_ptr error;
            try {
                attempt();
                return nullptr;
            } catch (const std::exception& e) {
                if (!is_delivery_id_clash(e) || repairs == id_repairs_per_attempt || !c_.is_open())
                    return std::current_exception();
                error = std::current_exception();
            } catch (...) {
                return std::current_exception();
            }
            try {
                const auto last = repair_delivery_ids(c_);
                log::warning("the delivery id sequence was behind the stored deliveries: moved past them",
                             {{"error", message_of(error)}, {"last_id_taken", last}});
            } catch (...) {
                // No privilege on the sequence, say: the clash stands (classify: ids_behind), unless
                // the connection went (then that is what happened).
                auto repair_error = std::current_exception();
                log::error("the delivery id sequence is behind the stored deliveries and could not be moved",
                           {{"error", message_of(repair_error)}, {"clash", message_of(error)}});
                return c_.is_open() ? error : repair_error;
            }
        }
    }

    void together(std::span<Delivery> batch) {
        std::exception_ptr error = repairing([&] {
            pqxx::work tx(c_);
            auto outcomes = store_batch(tx, batch, true, refused_, {});
            tx.commit();
            std::move(outcomes.begin(), outcomes.end(), result_.outcomes.begin());
        });
        if (!error) return;
        switch (classify(c_, error)) {
            case Failure::connection_lost: return lose_connection(batch.size(), 0, message_of(error));
            case Failure::ids_behind:
            case Failure::transient:
                for (auto& o : result_.outcomes) o = StoreOutcome::unavailable(message_of(error));
                return;
            case Failure::content:
            case Failure::environment:
                if (batch.size() == 1) return alone(batch[0], 0);
                // One bad delivery must not fail the rest of its batch: each alone.
                for (std::size_t i = 0; i < batch.size() && !result_.connection_lost; ++i) alone(batch[i], i);
        }
    }

    void alone(Delivery& d, std::size_t i) {
        // The large lane throws with `d` as it came (its body given back), so it can run again.
        std::exception_ptr error = repairing([&] {
            if (d.unparsed) {
                result_.outcomes[i] = store_large_delivery(c_, d, refused_ == Refused::keep_in_database,
                                                             result_.holds_large_buffers);
            } else {
                pqxx::work tx(c_);
                auto outcomes = store_batch(tx, std::span<Delivery>(&d, 1), true, refused_, {});
                tx.commit();
                result_.outcomes[i] = std::move(outcomes[0]);
            }
        });
        if (!error) return;
        auto failure = classify(c_, error);
        if (failure == Failure::connection_lost) return lose_connection(i + 1, i, message_of(error));
        // A clash that outlived the repairs would clash for the body alone too: another time.
        if (failure == Failure::transient || failure == Failure::ids_behind) {
            result_.outcomes[i] = StoreOutcome::unavailable(message_of(error));
            return;
        }
        // Its typed rows (or its parse inside the COPY) failed: keep the body alone.
        const std::string why = message_of(error);
        log::error("typed rows could not be written; keeping the body alone",
                   {{"error", why}, {"kind", to_string(d.kind)}, {"bytes", d.body.size()}});
        error = repairing([&] { result_.outcomes[i] = store_body_alone(c_, d, why); });
        if (!error) return;
        failure = classify(c_, error);
        if (failure == Failure::connection_lost) return lose_connection(i + 1, i, message_of(error));
        if (failure != Failure::content) {
            // The database takes no writes now, for every delivery alike: spool it or 503 it, and
            // a drain pauses rather than quarantine what a healthy database would take.
            result_.outcomes[i] = StoreOutcome::unavailable(message_of(error));
            return;
        }
        log::error("a delivery could not be stored, not even its body alone", {{"error", message_of(error)}});
        result_.outcomes[i] = StoreOutcome::failed(message_of(error));
    }

    // Deliveries [from, to) of this attempt are not stored; neither is any not attempted yet.
    void lose_connection(std::size_t to, std::size_t from, const std::string& why) {
        result_.connection_lost = true;
        log::warning("database connection lost; reconnecting", {{"error", why}});
        for (std::size_t i = from; i < to; ++i) result_.outcomes[i] = StoreOutcome::unavailable(why);
    }

    pqxx::connection_base& c_;
    Refused refused_;
    StoreResult result_;
};

}  // namespace

void prepare_store(pqxx::connection_base& connection) {
    // The daemon listens before its readiness thread migrates: a writer on a schema behind this
    // build's would store the bodies and have their typed rows refused. Without a connection it
    // spools them, and tries again until the migration is done.
    if (const int applied = applied_schema_version(connection); applied < latest_schema_version())
        throw std::runtime_error("the database schema is at version " + std::to_string(applied) +
                                 ", this build needs " + std::to_string(latest_schema_version()) +
                                 ": waiting for the migration");
    prepare_delivery_statements(connection);
    prepare_typed_statements(connection);
    prepare_large_delivery(connection);
}

StoreResult store(pqxx::connection_base& connection, std::span<Delivery> deliveries, Refused refused) {
    return Storer(connection, refused).run(deliveries);
}

}  // namespace esr::db
