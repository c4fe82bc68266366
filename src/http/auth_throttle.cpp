#include "esr/http/auth_throttle.hpp"

#include <arpa/inet.h>

namespace esr::http {
namespace {

// The key an address is counted under: IPv4 as it is, IPv6 as its /64.
std::string key_of(const std::string& address) {
    in6_addr v6{};
    if (address.find(':') == std::string::npos || inet_pton(AF_INET6, address.c_str(), &v6) != 1) return address;
    for (int i = 8; i < 16; ++i) v6.s6_addr[i] = 0;
    char text[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &v6, text, sizeof text);
    return std::string(text) + "/64";
}

}  // namespace

AuthThrottle::AuthThrottle(unsigned limit, std::chrono::milliseconds window, std::size_t max_addresses, Clock clock)
    : limit_(limit), window_(window), max_addresses_(max_addresses), clock_(std::move(clock)) {}

std::optional<std::chrono::seconds> AuthThrottle::blocked(const std::string& address) {
    if (limit_ == 0) return std::nullopt;
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key_of(address));
    if (it == entries_.end() || it->second.failures < limit_) return std::nullopt;
    auto ends = it->second.window_start + window_;
    auto now = clock_();
    if (now >= ends) {
        order_.erase(it->second.in_order);
        entries_.erase(it);
        return std::nullopt;
    }
    return std::chrono::ceil<std::chrono::seconds>(ends - now);
}

void AuthThrottle::failed(const std::string& address) {
    if (limit_ == 0) return;
    std::lock_guard lock(mutex_);
    auto now = clock_();
    auto [it, fresh] = entries_.try_emplace(key_of(address), Entry{0, now, {}});
    if (fresh) {
        it->second.in_order = order_.insert(order_.end(), it->first);
    } else {
        order_.splice(order_.end(), order_, it->second.in_order);
        if (now >= it->second.window_start + window_) {
            it->second.failures = 0;
            it->second.window_start = now;
        }
    }
    ++it->second.failures;
    while (entries_.size() > max_addresses_) {
        entries_.erase(order_.front());
        order_.pop_front();
    }
}

}  // namespace esr::http
