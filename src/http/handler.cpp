#include "esr/http/handler.hpp"

#include "esr/http/answers.hpp"

#include "esr/log.hpp"

#include <boost/json/value.hpp>

namespace esr::http {

Handler::Handler(const Config& config, const Authenticator& auth, DeliverySink& sink,
                 const ReadinessProbe& readiness, Metrics& metrics)
    : config_(config),
      credentials_(Credentials::make(auth, config.metrics_token)),
      sink_(sink),
      readiness_(readiness),
      metrics_(metrics),
      throttle_(config.auth_failure_limit, config.auth_failure_window) {}

std::shared_ptr<const Credentials> Credentials::make(Authenticator deliveries, const std::string& metrics_token) {
    std::optional<Authenticator> metrics;
    if (!metrics_token.empty()) metrics.emplace("", "", std::vector<std::string>{metrics_token});
    return std::make_shared<const Credentials>(Credentials{std::move(deliveries), std::move(metrics)});
}

std::shared_ptr<const Credentials> Credentials::from(const Config& config) {
    return make(Authenticator(config), config.metrics_token);
}

void Handler::set_credentials(std::shared_ptr<const Credentials> credentials) {
    std::lock_guard lock(credentials_mutex_);
    credentials_.swap(credentials);  // the old set is released outside the lock, with `credentials`
}

boost::json::object Handler::ready_body(std::string_view status) const {
    boost::json::object body{{"status", status}};
    if (auto spool = sink_.spool_depth()) {
        boost::json::object o{{"records", spool->records},
                              {"bytes", spool->bytes},
                              {"oldest_age_seconds", static_cast<std::uint64_t>(spool->oldest_age_seconds)},
                              {"quarantined", spool->quarantined},
                              {"in_service", spool->in_service}};
        if (spool->failing_drains > 0) o["failing_drains"] = spool->failing_drains;  // the error: in the log
        body["spool"] = std::move(o);
    }
    return body;
}

std::variant<Response, Intake> Handler::on_header(const RequestHead& head, Route route) const {
    std::string_view path = head.target;
    path = path.substr(0, path.find('?'));
    if (route == Route::other) return answers::no_such_path(path);

    const bool internal = route == Route::metrics || route == Route::healthz || route == Route::readyz;
    if (head.metrics_listener && !internal)
        return answers::only_internal_endpoints_here();
    // Internal endpoints stay off the public address once they have one of their own.
    if (internal && config_.metrics_listen && !head.metrics_listener) return answers::no_such_path(path);
    if (route == Route::metrics) {
        if (auto creds = credentials(); creds->metrics) {
            // The delivery path's bearer check (digests, constant time).
            if (!creds->metrics->authenticate(head.authorization))
                return failed_authentication(head).value_or(answers::metrics_token_refused());
        }
        if (head.method != "GET") return answers::wrong_method("GET", "use GET on " + std::string(path));
        Metrics::Gauges g;
        g.queue_depth = sink_.queue_depth();
        if (auto spool = sink_.spool_depth()) {
            g.spool_enabled = true;
            g.spool_records = spool->records;
            g.spool_bytes = spool->bytes;
            g.spool_oldest_age_seconds = spool->oldest_age_seconds;
            g.spool_drain_failures = spool->drain_failures;
            g.spool_quarantined = spool->quarantined;
            g.spool_corrupt_regions = spool->corrupt_regions;
            g.spool_in_service = spool->in_service;
        }
        g.database_up = readiness_.not_ready_reason().empty();
        Response r;
        r.body = metrics_.render(g);
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        return r;
    }
    if (route == Route::healthz || route == Route::readyz) {
        if (head.method != "GET") return answers::wrong_method("GET", "use GET on " + std::string(path));
        if (route == Route::healthz) return answers::json(200, {{"status", "ok"}});
        // A class, not the reason itself: libpq's text names hosts, ports and users. The monitor
        // and the spool log the text when it changes.
        std::string reason = readiness_.not_ready_class();
        if (auto spool = sink_.spool_depth(); reason.empty() && spool) reason = spool->trouble_class();
        if (!reason.empty()) return answers::not_ready_yet(ready_body("not_ready"), reason);
        return answers::json(200, ready_body("ready"));
    }

    if (head.method != "POST") return answers::wrong_method("POST", "deliveries are sent with POST");
    // Checked before a byte of the body is read, so an unauthenticated body is never stored; and
    // before the throttle, so failures from an address never lock out valid credentials from it.
    auto principal =
        head.authorization.empty() ? std::nullopt : credentials()->deliveries.authenticate(head.authorization);
    if (!principal) {
        return failed_authentication(head).value_or(answers::credentials_refused(!head.authorization.empty()));
    }
    if (head.content_length && *head.content_length > config_.max_body_bytes)
        return answers::declared_too_large(*head.content_length, config_.max_body_bytes);
    return Intake{kind_of(route), std::move(*principal), head.remote_addr, std::string(path)};
}

std::optional<Response> Handler::failed_authentication(const RequestHead& head) const {
    metrics_.auth_failure();
    // No Authorization at all is a client asking for the challenge, not a guess: never counted
    // (some clients send credentials only after a 401, and a 429 would stop them for good).
    if (head.authorization.empty()) return std::nullopt;
    if (auto wait = throttle_.blocked(head.remote_addr)) return answers::failed_too_often(*wait);
    throttle_.failed(head.remote_addr);
    return std::nullopt;
}

void Handler::on_body(const Intake& intake, std::string body, std::function<void(Response)> done) const {
    if (body.empty()) return done(answers::no_body());
    Delivery d = make_delivery(std::move(body), intake.path_kind, intake.path, config_);
    d.principal = intake.principal;
    d.remote_addr = intake.remote_addr;
    if (!d.rejected_because.empty()) {
        metrics_.rejected(d.rejected_code);
        // Kept for diagnosis before answering, whatever becomes of that write.
        auto refusal = answers::refused_body(d.rejected_code, d.rejected_because);
        return sink_.submit(std::move(d), [done = std::move(done), r = std::move(refusal)](StoreOutcome) { done(r); });
    }
    if (d.kind == Kind::unclassified && !d.unparsed)
        log::warning("unclassified delivery kept", {{"reason", d.records.reason}, {"remote_addr", d.remote_addr},
                                                    {"bytes", d.body.size()}});
    sink_.submit(std::move(d), [done = std::move(done), &metrics = metrics_](StoreOutcome out) {
        using S = StoreOutcome::Status;
        if (out.status == S::stored || out.status == S::duplicate || out.status == S::spooled)
            metrics.delivery(out.kind, out.record_count, out.status == S::duplicate, out.status == S::spooled);
        if (out.status == S::rejected) metrics.rejected(out.error_code);
        switch (out.status) {
            case S::stored:
            case S::duplicate: {
                auto r = answers::json(out.status == S::stored ? 202 : 200,
                                       {{"delivery_id", out.delivery_id},
                                        {"kind", to_string(out.kind)},
                                        {"duplicate", out.status == S::duplicate},
                                        {"records", out.record_count}});
                r.delivery_id = out.delivery_id;
                r.kind = to_string(out.kind);
                return done(std::move(r));
            }
            // The sender gets a class; the detail (PostgreSQL's text: hosts, roles, tables) goes to
            // the log only.
            case S::unavailable: {
                log::warning("delivery not stored: retry asked", {{"reason", out.reason}, {"error", out.detail}});
                return done(answers::retry_later(out.reason));
            }
            case S::failed:
                log::error("delivery not stored: the database refused it", {{"error", out.detail}});
                return done(answers::database_refused());
            case S::rejected:
                return done(answers::refused_body(out.error_code, out.detail));
            case S::spooled: {
                auto r = answers::json(202, {{"delivery_id", nullptr},
                                             {"kind", to_string(out.kind)},
                                             {"duplicate", false},
                                             {"records", out.record_count},
                                             {"spooled", true}});
                r.kind = to_string(out.kind);
                return done(std::move(r));
            }
        }
    });
}

}  // namespace esr::http
