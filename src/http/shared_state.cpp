#include "http/shared_state.hpp"

#include "esr/config.hpp"
#include "esr/http/handler.hpp"
#include "esr/log.hpp"
#include "esr/metrics.hpp"

namespace esr::http {

bool OnceAMinute::due() {
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    auto last = last_.load(std::memory_order_relaxed);
    if (now - last < std::chrono::steady_clock::duration(std::chrono::minutes(1)).count()) return false;
    return last_.compare_exchange_strong(last, now);
}

SharedState::Seat::Seat(Seat&& other) noexcept
    : state_(std::exchange(other.state_, nullptr)), place_(other.place_), peer_(std::move(other.peer_)) {}

SharedState::Seat::~Seat() {
    if (state_) state_->leave(place_, peer_);
}

void SharedState::Seat::occupy(std::weak_ptr<Session> session) {
    std::lock_guard lock(state_->mutex_);
    *place_ = std::move(session);
}

SharedState::SharedState(const Config& c, const Handler& h) : config(c), handler(h), metrics(h.metrics()) {
    for (const auto& t : c.trusted_proxies)
        if (auto cidr = parse_cidr(t)) trusted_proxies.push_back(*cidr);
    metrics.count_connections_with([this] { return connections(); });
}

SharedState::~SharedState() { metrics.count_connections_with(nullptr); }

std::variant<SharedState::Seat, SharedState::Refusal> SharedState::admit(const std::string& peer) {
    std::lock_guard lock(mutex_);
    if (sessions_.size() >= config.max_connections) return Refusal::server_full;
    auto& n = per_address_[peer];
    const auto limit = config.max_connections_per_address;
    if (limit != 0 && n >= limit && !is_trusted(peer, trusted_proxies)) return Refusal::address_full;
    ++n;
    return Seat(*this, sessions_.emplace(sessions_.end()), peer);
}

void SharedState::leave(Registry::iterator place, const std::string& peer) {
    std::lock_guard lock(mutex_);
    sessions_.erase(place);
    auto it = per_address_.find(peer);
    if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
}

std::size_t SharedState::connections() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
}

std::vector<std::shared_ptr<Session>> SharedState::sessions() const {
    std::vector<std::shared_ptr<Session>> open;
    std::lock_guard lock(mutex_);
    for (const auto& weak : sessions_)
        if (auto s = weak.lock()) open.push_back(std::move(s));
    return open;
}

void SharedState::untrusted_forwarding(const std::string& peer) {
    if (untrusted_forwarding_said_.due())
        log::warning("X-Forwarded-For ignored from a peer not in --trusted-proxies; if it is your proxy, add it",
                     {{"peer", peer}});
}

}  // namespace esr::http
