#include "esr/http/auth_throttle.hpp"

namespace esr::http {

AuthThrottle::AuthThrottle(unsigned limit, std::chrono::milliseconds window, std::size_t max_addresses, Clock clock)
    : limit_(limit), window_(window), max_addresses_(max_addresses), clock_(std::move(clock)) {}

std::optional<std::chrono::seconds> AuthThrottle::blocked(const std::string& address) {
    if (limit_ == 0) return std::nullopt;
    std::lock_guard lock(mutex_);
    auto it = entries_.find(address);
    if (it == entries_.end() || it->second.failures < limit_) return std::nullopt;
    auto ends = it->second.window_start + window_;
    auto now = clock_();
    if (now >= ends) {
        entries_.erase(it);
        return std::nullopt;
    }
    return std::chrono::ceil<std::chrono::seconds>(ends - now);
}

void AuthThrottle::failed(const std::string& address) {
    if (limit_ == 0) return;
    std::lock_guard lock(mutex_);
    auto now = clock_();
    auto [it, fresh] = entries_.try_emplace(address, Entry{0, now});
    if (!fresh && now >= it->second.window_start + window_) it->second = Entry{0, now};
    ++it->second.failures;
    if (entries_.size() > max_addresses_) forget_expired(now);
}

void AuthThrottle::forget_expired(std::chrono::steady_clock::time_point now) {
    for (auto it = entries_.begin(); it != entries_.end();) {
        if (now >= it->second.window_start + window_) it = entries_.erase(it);
        else ++it;
    }
    // Still too many (a flood of distinct addresses): start over rather than grow without bound.
    if (entries_.size() > max_addresses_) entries_.clear();
}

}  // namespace esr::http
