#include "http/listener.hpp"

#include "esr/config.hpp"
#include "esr/http/answers.hpp"
#include "esr/log.hpp"
#include "esr/metrics.hpp"
#include "http/session.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http/write.hpp>

#include <sstream>

namespace esr::http {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

Listener::Listener(net::io_context& ioc, SharedState& state, bool metrics_only)
    : ioc_(ioc), state_(state), acceptor_(net::make_strand(ioc)), retry_(acceptor_.get_executor()),
      metrics_only_(metrics_only) {}

void Listener::bind(const ListenAddress& address) {
    const std::string setting = metrics_only_ ? "--metrics-listen (ESR_METRICS_LISTEN)" : "--listen (ESR_LISTEN)";
    error_code ec;
    tcp::endpoint endpoint(net::ip::make_address(address.host, ec), address.port);
    if (ec) throw ConfigError(setting, address.to_string() + ": " + ec.message());
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) throw ConfigError(setting, "cannot listen on " + address.to_string() + ": " + ec.message());
}

void Listener::run() {
    net::dispatch(acceptor_.get_executor(), beast::bind_front_handler(&Listener::accept, shared_from_this()));
}

void Listener::stop() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
        error_code ec;
        self->acceptor_.close(ec);
        self->retry_.cancel();
    });
}

void Listener::accept() {
    acceptor_.async_accept(net::make_strand(ioc_), beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
}

void Listener::on_accept(error_code ec, tcp::socket socket) {
    if (!acceptor_.is_open()) return;
    if (ec) {
        // EMFILE and friends: retrying at once would spin, giving up would stop serving.
        log::warning("accept failed", {{"error", ec.message()}});
        retry_.expires_after(std::chrono::milliseconds(100));
        retry_.async_wait([self = shared_from_this()](error_code wait_ec) {
            if (!wait_ec) self->accept();
        });
        return;
    }
    auto peer = peer_of(socket);
    auto admission = state_.admit(peer);
    if (auto* seat = std::get_if<SharedState::Seat>(&admission)) {
        std::make_shared<Session>(std::move(socket), state_, metrics_only_, std::move(*seat))->start();
    } else {
        state_.metrics.connection_refused();
        if (state_.refusal_said.due())
            log::warning(std::get<SharedState::Refusal>(admission) == SharedState::Refusal::server_full
                             ? "connection refused: --max-connections reached"
                             : "connection refused: --max-connections-per-address reached for this address",
                         {{"peer", peer}});
        refuse(std::move(socket));
    }
    accept();
}

void Listener::refuse(tcp::socket&& socket) {
    // Written straight to the socket: no session is made for a connection over the limit.
    static const std::string reply = [] {
        std::ostringstream wire;
        wire << to_message(answers::connection_limit_reached(), false);
        return wire.str();
    }();
    auto s = std::make_shared<tcp::socket>(std::move(socket));
    net::async_write(*s, net::buffer(reply), [s](error_code, std::size_t) {
        error_code ignored;
        s->shutdown(tcp::socket::shutdown_both, ignored);
        s->close(ignored);
    });
}

}  // namespace esr::http
