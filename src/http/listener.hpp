#pragma once

// Accepts connections on one address and gives each a session, or the catalogue's refusal when
// the server or the peer's address is at its limit.

#include "http/shared_state.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>

namespace esr {
struct ListenAddress;
}

namespace esr::http {

class Listener : public std::enable_shared_from_this<Listener> {
public:
    /// `metrics_only`: the --metrics-listen address, where only internal endpoints are served.
    Listener(boost::asio::io_context& ioc, SharedState& state, bool metrics_only = false);

    /// Throws ConfigError naming the setting when `address` cannot be bound.
    void bind(const ListenAddress& address);
    void run();
    void stop();

private:
    using error_code = boost::system::error_code;

    void accept();
    void on_accept(error_code ec, boost::asio::ip::tcp::socket socket);
    static void refuse(boost::asio::ip::tcp::socket&& socket);

    boost::asio::io_context& ioc_;
    SharedState& state_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer retry_;
    bool metrics_only_;
};

}  // namespace esr::http
