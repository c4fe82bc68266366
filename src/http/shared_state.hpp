#pragma once

// What every session and listener of one server shares. It alone keeps the session registry and
// the connection counts (total and per address): /metrics reads the total from here at scrape
// time, so there is no second counter to drift from it.

#include "esr/address.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <limits>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace esr {
struct Config;
class Metrics;
}  // namespace esr

namespace esr::http {

class Handler;
class Session;

/// For warnings a flood could repeat: true at most once a minute, whichever thread asks.
class OnceAMinute {
public:
    bool due();

private:
    std::atomic<std::chrono::steady_clock::rep> last_{std::numeric_limits<std::chrono::steady_clock::rep>::min() / 2};
};

class SharedState {
    using Registry = std::list<std::weak_ptr<Session>>;

public:
    /// One admitted connection's place in the registry (it counts toward both limits while it
    /// lives); the session owns it, so the count cannot outlive or miss a session.
    class Seat {
    public:
        Seat(Seat&& other) noexcept;
        Seat& operator=(Seat&&) = delete;
        ~Seat();
        const std::string& peer() const { return peer_; }
        /// Makes the session reachable at shutdown (notify_server_stopping).
        void occupy(std::weak_ptr<Session> session);

    private:
        friend class SharedState;
        Seat(SharedState& state, Registry::iterator place, std::string peer)
            : state_(&state), place_(place), peer_(std::move(peer)) {}
        SharedState* state_;  // null once moved from
        Registry::iterator place_;
        std::string peer_;
    };
    enum class Refusal { server_full, address_full };

    /// Registers with `handler`'s Metrics as the source of the open-connection gauge.
    SharedState(const Config& config, const Handler& handler);
    ~SharedState();
    SharedState(const SharedState&) = delete;
    SharedState& operator=(const SharedState&) = delete;

    /// A seat for a connection from `peer`, or why not: both limits are checked and counted under
    /// one lock, so two listeners cannot both take the last place.
    std::variant<Seat, Refusal> admit(const std::string& peer);
    std::size_t connections() const;
    /// Every session still alive. Dropped by the caller outside the lock: the last reference may
    /// go there, and a session's seat takes the lock when it goes.
    std::vector<std::shared_ptr<Session>> sessions() const;

    /// X-Forwarded-For from a peer not trusted with it: ignored, and said (a proxy missing from
    /// --trusted-proxies makes every client look like the proxy).
    void untrusted_forwarding(const std::string& peer);

    const Config& config;
    const Handler& handler;
    Metrics& metrics;  // the sessions' and listeners' own way to it, not through the handler
    std::vector<Cidr> trusted_proxies;
    OnceAMinute refusal_said;
    std::atomic<bool> stopping{false};

private:
    void leave(Registry::iterator place, const std::string& peer);

    mutable std::mutex mutex_;
    Registry sessions_;  // its size is the open-connection count
    std::unordered_map<std::string, std::size_t> per_address_;  // so one client cannot take every connection
    OnceAMinute untrusted_forwarding_said_;
};

}  // namespace esr::http
