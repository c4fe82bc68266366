#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace esr::http {

/// Counts failed authentications per client address, so credentials cannot be guessed at line
/// speed: past `limit` failures within `window`, the address is refused (429) until the window
/// ends. Addresses that never fail are never slowed. Memory is bounded by `max_addresses`.
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
    };
    void forget_expired(std::chrono::steady_clock::time_point now);

    unsigned limit_;
    std::chrono::milliseconds window_;
    std::size_t max_addresses_;
    Clock clock_;
    std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
};

}  // namespace esr::http
