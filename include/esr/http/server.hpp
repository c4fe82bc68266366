#pragma once

#include <functional>
#include <memory>

namespace esr {
struct Config;
}

namespace esr::http {

class Handler;

/// The HTTP listener: accepts connections on its own threads, runs each on a strand, and hands
/// requests to the Handler. Beast stays inside server.cpp.
class Server {
public:
    Server(const Config& config, const Handler& handler);
    ~Server();

    /// Binds and listens; throws ConfigError naming --listen when the address cannot be bound.
    void start();
    /// Called on a network thread at each SIGHUP (reload); the server goes on serving meanwhile.
    void on_reload(std::function<void()> reload);
    /// Blocks until SIGTERM or SIGINT, then stops accepting, lets in-flight requests finish within
    /// the grace period, and returns. A second signal cuts the grace short.
    void run_until_signal();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace esr::http
