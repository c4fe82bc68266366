#pragma once

#include "esr/auth.hpp"
#include "esr/config.hpp"
#include "esr/delivery.hpp"
#include "esr/http/auth_throttle.hpp"
#include "esr/http/response.hpp"
#include "esr/http/route.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include "esr/metrics.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace esr::http {

/// What the handler needs of a request whose header has been read. Socket-free on purpose.
struct RequestHead {
    std::string method;  // upper case, as sent
    std::string target;  // path and query
    std::string authorization;
    std::optional<std::uint64_t> content_length;
    std::string remote_addr;
    bool metrics_listener = false;  // arrived on --metrics-listen
};

/// A POST that passed routing and authentication: its body may now be read.
struct Intake {
    std::optional<Kind> path_kind;  // named by the path, or nothing for the base path
    std::string principal;
    std::string remote_addr;
    std::string path;
};

/// What a request is checked against; replaced whole on reload (SIGHUP), never changed in place.
struct Credentials {
    Authenticator deliveries;
    std::optional<Authenticator> metrics;  // set: /metrics needs this bearer token

    static std::shared_ptr<const Credentials> make(Authenticator deliveries, const std::string& metrics_token);
    static std::shared_ptr<const Credentials> from(const Config& config);
};

/// Request handling, as functions of a parsed request. The session (which owns the socket) calls
/// `on_header` once the header is in, with the route it found (route_of), reads the body only for
/// an Intake, then calls `on_body`.
class Handler {
public:
    Handler(const Config& config, const Authenticator& auth, DeliverySink& sink,
            const ReadinessProbe& readiness, Metrics& metrics);

    Metrics& metrics() const { return metrics_; }

    /// From now on requests are checked against `credentials` (a request already past its header
    /// keeps the answer it had). Thread-safe: a reload while deliveries flow refuses none of them.
    void set_credentials(std::shared_ptr<const Credentials> credentials);

    /// `route` is route_of(head.target, --base-path), found by the session.
    std::variant<Response, Intake> on_header(const RequestHead& head, Route route) const;

    /// `done` is called exactly once, possibly on another thread.
    void on_body(const Intake& intake, std::string body,
                 std::function<void(Response)> done) const;

private:
    boost::json::object ready_body(std::string_view status) const;
    /// A failed authentication, counted in /metrics and (when credentials were sent) by the
    /// throttle: 429 when its address is past the limit, else nothing (the caller answers 401).
    std::optional<Response> failed_authentication(const RequestHead& head) const;

    const Config& config_;
    std::shared_ptr<const Credentials> credentials() const {
        std::lock_guard lock(credentials_mutex_);
        return credentials_;
    }
    // A mutex, not std::atomic<std::shared_ptr>: GCC 12's lock bit is invisible to ThreadSanitizer,
    // and an uncontended lock per request costs nothing measurable.
    mutable std::mutex credentials_mutex_;
    std::shared_ptr<const Credentials> credentials_;
    DeliverySink& sink_;
    const ReadinessProbe& readiness_;
    Metrics& metrics_;
    mutable AuthThrottle throttle_;  // its own lock: the handler is shared by the network threads
};

}  // namespace esr::http
