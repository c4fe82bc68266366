// The server's assembly: listeners on their threads, signals, and the graceful stop. The parts
// are split by role, as in Beast's chat-multi example: shared_state (registry and counts),
// listener (accept and admit), session (one connection), growing_string_body.
#include "esr/http/server.hpp"

#include "esr/config.hpp"
#include "esr/log.hpp"
#include "http/listener.hpp"
#include "http/session.hpp"
#include "http/shared_state.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace esr::http {

namespace net = boost::asio;
using error_code = boost::system::error_code;

struct Server::Impl {
    Impl(const Config& c, const Handler& h)
        : config(c), state(c, h), ioc(static_cast<int>(c.threads)), signals(ioc, SIGINT, SIGTERM, SIGHUP) {}

    const Config& config;
    SharedState state;  // before ioc: handlers still queued at destruction end sessions, which use it
    net::io_context ioc;
    net::signal_set signals;
    std::shared_ptr<Listener> listener;
    std::shared_ptr<Listener> metrics_listener;
    std::vector<std::thread> threads;
    std::mutex mutex;
    std::condition_variable changed;
    int signals_seen = 0;
    std::function<void()> reload;

    void on_signal(error_code ec, int signal) {
        if (ec) return;
        if (signal == SIGHUP) {
            if (reload) reload();
            signals.async_wait([this](error_code e, int s) { on_signal(e, s); });
            return;
        }
        {
            std::lock_guard lock(mutex);
            ++signals_seen;
        }
        changed.notify_all();
        log::info(signals_seen == 1 ? "stopping" : "stopping now", {{"signal", signal}});
        signals.async_wait([this](error_code e, int s) { on_signal(e, s); });
    }

    void stop_accepting_and_wake_idle_sessions() {
        state.stopping = true;
        listener->stop();
        if (metrics_listener) metrics_listener->stop();
        // Outside the registry's lock: the last reference may go here, and a session's seat takes it.
        for (auto& s : state.sessions()) s->notify_server_stopping();
    }
};

Server::Server(const Config& config, const Handler& handler) : impl_(std::make_unique<Impl>(config, handler)) {}

Server::~Server() {
    if (!impl_->threads.empty()) {
        impl_->ioc.stop();
        for (auto& t : impl_->threads) t.join();
    }
    log::flush();
}

void Server::start() {
    impl_->listener = std::make_shared<Listener>(impl_->ioc, impl_->state);
    impl_->listener->bind(impl_->config.listen);
    impl_->listener->run();
    if (impl_->config.metrics_listen) {
        impl_->metrics_listener = std::make_shared<Listener>(impl_->ioc, impl_->state, true);
        impl_->metrics_listener->bind(*impl_->config.metrics_listen);
        impl_->metrics_listener->run();
    }
    impl_->signals.async_wait([this](error_code e, int s) { impl_->on_signal(e, s); });
    for (unsigned i = 0; i < impl_->config.threads; ++i) impl_->threads.emplace_back([this] { impl_->ioc.run(); });
    log::info("listening", {{"address", impl_->config.listen.to_string()},
                            {"base_path", impl_->config.base_path},
                            {"threads", impl_->config.threads}});
}

void Server::on_reload(std::function<void()> reload) { impl_->reload = std::move(reload); }

void Server::run_until_signal() {
    auto& m = *impl_;
    {
        std::unique_lock lock(m.mutex);
        m.changed.wait(lock, [&] { return m.signals_seen > 0; });
    }
    m.stop_accepting_and_wake_idle_sessions();
    auto deadline = std::chrono::steady_clock::now() + m.config.shutdown_grace;
    {
        std::unique_lock lock(m.mutex);
        while (m.state.connections() > 0 && m.signals_seen < 2 && std::chrono::steady_clock::now() < deadline)
            m.changed.wait_for(lock, std::chrono::milliseconds(20));
    }
    if (const auto open = m.state.connections(); open > 0)
        log::warning("closing connections still open after the grace period", {{"connections", open}});
    m.ioc.stop();
    for (auto& t : m.threads) t.join();
    m.threads.clear();
    log::flush();  // request lines whose flush the stopped io_context did not run
}

}  // namespace esr::http
