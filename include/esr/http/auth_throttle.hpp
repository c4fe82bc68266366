#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace esr::http {

/// Counts failed authentications per client address, so credentials cannot be guessed at line
/// speed: past `limit` failures within `window`, the address's failures get 429 until the window
/// ends. Only failures are counted and only failures are refused: valid credentials always pass
/// (the caller checks them first), so nobody can lock EventsShop out by failing from its address.
/// An IPv6 address counts as its /64 (one subscriber rotates freely inside it). Memory is bounded
/// by `max_addresses`; past it the least recently failing address is forgotten first.
class AuthThrottle {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    AuthThrottle(unsigned limit, std::chrono::milliseconds window, std::size_t max_addresses = 100'000,
                 Clock clock = [] { return std::chrono::steady_clock::now(); });

    /// How long `address` must wait, or nothing when it may try.
    std::optional<std::chrono::seconds> blocked(const std::string& address);
    void failed(const std::string& address);

private:
    struct Entry {
        unsigned failures = 0;
        std::chrono::steady_clock::time_point window_start;
        std::list<std::string>::iterator in_order;
    };

    unsigned limit_;
    std::chrono::milliseconds window_;
    std::size_t max_addresses_;
    Clock clock_;
    std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
    std::list<std::string> order_;  // least recently failing first
};

}  // namespace esr::http
