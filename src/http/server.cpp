// The only translation unit that touches sockets: listener, sessions, signals.
#include "esr/http/server.hpp"

#include "esr/config.hpp"
#include "esr/http/forwarded.hpp"
#include "esr/http/handler.hpp"
#include "esr/http/answers.hpp"
#include "esr/log.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <chrono>
#include <limits>
#include <list>
#include <sstream>
#include <unordered_map>
#include <mutex>
#include <thread>

namespace esr::http {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

class Session;

/// A request body held as a std::string, as Beast's string_body, but grown as bytes arrive: Beast's
/// reserves the declared Content-Length at once, so four connections declaring 256 MiB and sending
/// a byte each would hold 1 GiB. Here memory follows what was received; growth is geometric, and
/// never past the declared length, so a body that does come whole is copied at most a few times.
struct GrowingStringBody {
    using value_type = std::string;

    class reader {
    public:
        template <bool isRequest, class Fields>
        reader(bhttp::header<isRequest, Fields>&, value_type& body) : body_(body) {}

        void init(const boost::optional<std::uint64_t>& length, error_code& ec) {
            declared_ = length ? *length : 0;
            body_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(declared_, first_reserve)));
            ec = {};
        }

        template <class ConstBufferSequence>
        std::size_t put(const ConstBufferSequence& buffers, error_code& ec) {
            const auto extra = boost::asio::buffer_size(buffers);
            const auto size = body_.size();
            if (size + extra > body_.capacity()) {
                std::uint64_t grown = std::max<std::uint64_t>(2 * static_cast<std::uint64_t>(body_.capacity()), size + extra);
                if (declared_ >= size + extra) grown = std::min(grown, declared_);
                try {
                    body_.reserve(static_cast<std::size_t>(grown));
                } catch (const std::exception&) {  // length_error, bad_alloc: a body we cannot hold
                    ec = bhttp::error::body_limit;
                    return 0;
                }
            }
            body_.resize(size + extra);
            char* to = body_.data() + size;
            for (auto b : beast::buffers_range_ref(buffers)) {
                std::memcpy(to, b.data(), b.size());
                to += b.size();
            }
            ec = {};
            return extra;
        }

        void finish(error_code& ec) { ec = {}; }

    private:
        static constexpr std::uint64_t first_reserve = 64 << 10;
        value_type& body_;
        std::uint64_t declared_ = 0;
    };
};

/// A Response as Beast writes it.
bhttp::response<bhttp::string_body> to_message(const Response& r, bool keep_alive) {
    bhttp::response<bhttp::string_body> res(static_cast<bhttp::status>(r.status), 11);
    res.set(bhttp::field::server, "eventsshop-receiver");
    res.set(bhttp::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) res.insert(name, value);
    res.body() = r.body;
    res.keep_alive(keep_alive);
    res.prepare_payload();
    return res;
}

/// For warnings a flood could repeat: true at most once a minute, whichever thread asks.
class OnceAMinute {
public:
    bool due() {
        const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
        auto last = last_.load(std::memory_order_relaxed);
        if (now - last < std::chrono::steady_clock::duration(std::chrono::minutes(1)).count()) return false;
        return last_.compare_exchange_strong(last, now);
    }

private:
    std::atomic<std::chrono::steady_clock::rep> last_{std::numeric_limits<std::chrono::steady_clock::rep>::min() / 2};
};

struct SharedState {
    SharedState(const Config& c, const Handler& h) : config(c), handler(h) {
        for (const auto& t : c.trusted_proxies)
            if (auto cidr = parse_cidr(t)) trusted_proxies.push_back(*cidr);
    }
    const Config& config;
    const Handler& handler;
    std::vector<Cidr> trusted_proxies;

    // Connections per peer address, so one client cannot take every connection.
    std::mutex per_address_mutex;
    std::unordered_map<std::string, std::size_t> per_address;

    /// Counts a new connection from `peer`; false when that address is at its limit.
    bool admit(const std::string& peer) {
        std::lock_guard lock(per_address_mutex);
        auto& n = per_address[peer];
        const auto limit = config.max_connections_per_address;
        if (limit != 0 && n >= limit && !is_trusted(peer, trusted_proxies)) return false;
        ++n;
        return true;
    }
    void release(const std::string& peer) {
        std::lock_guard lock(per_address_mutex);
        auto it = per_address.find(peer);
        if (it != per_address.end() && --it->second == 0) per_address.erase(it);
    }
    /// X-Forwarded-For from a peer not trusted with it: ignored, and said (a proxy missing from
    /// --trusted-proxies makes every client look like the proxy).
    void untrusted_forwarding(const std::string& peer) {
        if (untrusted_forwarding_said.due())
            log::warning("X-Forwarded-For ignored from a peer not in --trusted-proxies; if it is your proxy, add it",
                         {{"peer", peer}});
    }
    OnceAMinute untrusted_forwarding_said;
    OnceAMinute refusal_said;
    std::atomic<std::size_t> connections{0};
    std::atomic<bool> stopping{false};
    std::mutex mutex;
    std::list<std::weak_ptr<Session>> sessions;  // to reach idle sessions at shutdown
};

class Session : public std::enable_shared_from_this<Session> {
public:
    /// `peer` is the address admit() counted, so release() takes back exactly that.
    Session(tcp::socket&& socket, SharedState& state, bool metrics_listener, std::string peer)
        : state_(state),
          stream_(std::move(socket)),
          // Bytes read but not yet parsed: a header, or one read of body. Bounded, so a chunk
          // header with endless extensions cannot grow it (they count as header bytes).
          buffer_(state.config.max_header_bytes + read_size),
          remote_(std::move(peer)),
          metrics_listener_(metrics_listener) {
        ++state_.connections;
        state_.handler.metrics().connection_opened();
    }

    /// The peer's address as the listener saw it (before the session is created).
    static std::string peer_of(const tcp::socket& socket) {
        error_code ec;
        auto peer = socket.remote_endpoint(ec);
        return ec ? std::string() : peer.address().to_string();
    }

    ~Session() {
        std::lock_guard lock(state_.mutex);
        state_.sessions.erase(registration_);
        --state_.connections;
        state_.release(remote_);
        state_.handler.metrics().connection_closed();
    }

    void start() {
        {
            std::lock_guard lock(state_.mutex);
            registration_ = state_.sessions.insert(state_.sessions.end(), weak_from_this());
        }
        net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::read_header, shared_from_this()));
    }

    /// Called on the session's strand when the server stops: a connection waiting for its next
    /// request is closed now; one in the middle of a request finishes it and then closes.
    void notify_server_stopping() {
        net::post(stream_.get_executor(), [self = shared_from_this()] {
            if (self->waiting_for_request_) self->close();
        });
    }

private:
    void read_header() {
        parser_.emplace();
        parser_->header_limit(static_cast<std::uint32_t>(state_.config.max_header_bytes));
        // No body limit yet: Beast would enforce it while reading the header, before credentials
        // are checked. The handler judges Content-Length; read_body() sets the limit.
        parser_->body_limit(boost::none);
        waiting_for_request_ = buffer_.size() == 0;
        if (waiting_for_request_ && state_.stopping) return close();
        // The first request must arrive within the header timeout; later ones get the idle timeout.
        stream_.expires_after(first_request_ ? state_.config.header_timeout : state_.config.idle_timeout);
        bhttp::async_read_header(stream_, buffer_, *parser_,
                                 beast::bind_front_handler(&Session::on_header, shared_from_this()));
    }

    void on_header(error_code ec, std::size_t bytes) {
        waiting_for_request_ = false;
        started_ = std::chrono::steady_clock::now();
        bytes_in_ = bytes;
        if (ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == net::error::operation_aborted ||
            ec == net::error::connection_reset)
            return close();
        if (ec == beast::error::timeout) {
            log::debug("connection timed out waiting for a request header", {{"remote_addr", remote_}});
            return close();
        }
        if (ec == bhttp::error::header_limit)
        {
            unread_body_ = true;  // what follows the header is unread: linger, not reset
            return answer(answers::header_over_limit(state_.config.max_header_bytes), true);
        }
        if (ec) {
            unread_body_ = true;
            return answer(answers::malformed(ec.message()), true);
        }

        const auto& req = parser_->get();
        head_.method = std::string(req.method_string());
        head_.target = std::string(req.target());
        head_.authorization = std::string(req[bhttp::field::authorization]);
        if (auto length = parser_->content_length()) head_.content_length = *length;
        // Every field line, joined: RFC 9110 5.3 makes them one list, and a proxy may append its own
        // line rather than extend the client's.
        std::string forwarded_for;
        for (auto [line, end] = req.equal_range("X-Forwarded-For"); line != end; ++line)
            forwarded_for.append(forwarded_for.empty() ? "" : ", ").append(line->value());
        head_.remote_addr = client_address(remote_, forwarded_for, state_.trusted_proxies);
        if (!forwarded_for.empty() && !is_trusted(remote_, state_.trusted_proxies)) state_.untrusted_forwarding(remote_);
        head_.metrics_listener = metrics_listener_;
        keep_alive_ = req.keep_alive();

        auto decision = state_.handler.on_header(head_);
        if (auto* early = std::get_if<Response>(&decision)) {
            // A body we will not read must not be taken for the next request: close instead.
            bool body_pending = !parser_->is_done();
            unread_body_ = body_pending;
            return answer(std::move(*early), early->close || body_pending);
        }
        intake_ = std::move(std::get<Intake>(decision));
        if (beast::iequals(req[bhttp::field::expect], "100-continue")) {
            continue_ = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, req.version());
            stream_.expires_after(write_timeout);
            return bhttp::async_write(stream_, *continue_, [self = shared_from_this()](error_code write_ec, std::size_t) {
                if (write_ec) return self->close();
                self->read_body();
            });
        }
        read_body();
    }

    void read_body() {
        parser_->body_limit(state_.config.max_body_bytes);
        body_started_ = std::chrono::steady_clock::now();
        body_bytes_ = 0;
        body_late_ = false;
        whole_body_late_ = false;
        // A timer of our own rather than the stream's: the stream closes the socket on expiry,
        // and a late sender should still hear why it was cut off.
        stream_.expires_never();
        // Usually the whole body came with the header and no socket read is left to time.
        auto remaining = parser_->content_length_remaining();
        if (!remaining || *remaining > buffer_.size()) {
            watching_body_ = true;
            watch_body();
        }
        read_some_body();
    }

    /// Fires at the body deadline; if the body has moved the deadline since, waits again.
    void watch_body() {
        body_timer_.expires_at(body_deadline());
        body_timer_.async_wait([self = shared_from_this()](error_code ec) {
            if (ec || !self->watching_body_) return;
            const auto now = std::chrono::steady_clock::now();
            if (now < self->body_deadline()) return self->watch_body();
            self->body_late_ = true;
            self->whole_body_late_ = now >= self->body_started_ + self->state_.config.body_timeout;
            self->stream_.cancel();
        });
    }

    /// The body is read piece by piece so that each piece counts toward the minimum rate.
    void read_some_body() {
        if (parser_->is_done()) return on_body({});
        bhttp::async_read_some(stream_, buffer_, *parser_, [self = shared_from_this()](error_code ec, std::size_t n) {
            self->bytes_in_ += n;
            self->body_bytes_ += n;
            if (ec || self->parser_->is_done()) return self->on_body(ec);
            // The timer fired while this handler was queued: its cancel() found no read to stop.
            if (self->body_late_) return self->on_body(net::error::timed_out);
            self->read_some_body();
        });
    }

    std::chrono::steady_clock::time_point body_deadline() const {
        const auto& c = state_.config;
        auto allowed = c.body_timeout;  // at most a year (config), so the sum below cannot overflow
        if (c.min_body_rate != 0) {
            // When the bytes so far stop covering grace + elapsed time at the minimum rate.
            // body_bytes_ <= --max-body-bytes <= 2^40, so the product fits.
            auto covered = std::chrono::milliseconds(std::min<std::uint64_t>(
                body_bytes_ * 1000 / c.min_body_rate, static_cast<std::uint64_t>(allowed.count())));
            allowed = std::min(allowed, c.body_rate_grace + covered);
        }
        return body_started_ + allowed;
    }

    void on_body(error_code ec) {
        if (watching_body_) {
            watching_body_ = false;
            body_timer_.cancel();
        }
        // Refused with the rest of the body still coming: linger (bounded), so the answer is not
        // lost to a reset, which a streaming proxy would turn into 502.
        unread_body_ = ec == bhttp::error::buffer_overflow || ec == bhttp::error::body_limit || (ec && body_late_);
        if (ec == bhttp::error::buffer_overflow)
            return answer(answers::chunk_header_over_limit(state_.config.max_header_bytes + read_size), true);
        if (ec == bhttp::error::body_limit) return answer(answers::grew_too_large(state_.config.max_body_bytes), true);
        if (ec && body_late_) {
            // Nothing was stored. The sender may still be listening; tell it which limit it hit.
            return answer(answers::body_late(whole_body_late_
                                                 ? "the body did not arrive within " +
                                                       std::to_string(state_.config.body_timeout.count()) + " ms"
                                                 : "the body arrived slower than " +
                                                       std::to_string(state_.config.min_body_rate) +
                                                       " bytes per second"),
                          true);
        }
        if (ec) {
            // Timed out or cut off mid-body: nothing was stored, and nobody is left to answer.
            log::info("request abandoned", {{"remote_addr", remote_},
                                            {"method", head_.method},
                                            {"path", head_.target},
                                            {"bytes_in", bytes_in_},
                                            {"reason", ec.message()}});
            return close();
        }
        state_.handler.on_body(*intake_, parser_->release().body(), [self = shared_from_this()](Response r) {
            net::post(self->stream_.get_executor(),
                      [self, r = std::move(r)]() mutable { self->answer(std::move(r), false); });
        });
    }

    void answer(Response r, bool close_after) {
        bool close_connection = close_after || r.close || !keep_alive_ || state_.stopping;
        auto res = std::make_shared<bhttp::response<bhttp::string_body>>(to_message(r, !close_connection));
        log_request(r, res->body().size());
        stream_.expires_after(write_timeout);
        bhttp::async_write(stream_, *res, [self = shared_from_this(), res, close_connection](error_code ec, std::size_t) {
            if (!ec && close_connection && self->unread_body_) return self->linger();
            if (ec || close_connection) return self->close();
            self->first_request_ = false;
            self->read_header();
        });
    }

    void log_request(const Response& r, std::size_t bytes_out) {
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started_);
        boost::json::object f{{"remote_addr", head_.remote_addr.empty() ? remote_ : head_.remote_addr},
                              {"method", head_.method},
                              {"path", head_.target},
                              {"status", r.status},
                              {"bytes_in", bytes_in_},
                              {"bytes_out", bytes_out},
                              {"duration_us", us.count()}};
        if (r.delivery_id != 0) f["delivery_id"] = r.delivery_id;
        if (!r.kind.empty()) f["kind"] = r.kind;
        if (intake_) f["principal"] = intake_->principal;
        state_.handler.metrics().request(intake_ ? intake_->route : r.route, r.status, us, bytes_in_);
        log::write(r.status >= 500 ? log::Level::warning : log::Level::info, "request", f);
        head_ = {};
        intake_.reset();
    }

    void close() {
        error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
        stream_.close();
    }

    // Refused at its header, the body was never read. Closing now would make the kernel answer the
    // bytes still arriving with a reset, which can destroy our answer before the peer reads it (a
    // proxy streaming the body then reports 502). So, like nginx's lingering close: stop sending,
    // read and drop what comes for a short while, then close.
    void linger() {
        error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
        stream_.expires_after(std::chrono::seconds(2));
        buffer_.clear();
        discard(0);
    }
    void discard(std::size_t dropped) {
        constexpr std::size_t at_most = 4 << 20;
        stream_.async_read_some(buffer_.prepare(16 << 10), [self = shared_from_this(), dropped](error_code ec, std::size_t n) {
            self->buffer_.clear();
            if (ec || dropped + n > at_most) return self->close();
            self->discard(dropped + n);
        });
    }

    static constexpr std::size_t read_size = 64 << 10;  // what Beast reads at most at once
    // An answer is a few KiB: a peer that does not read it in this time is not going to.
    static constexpr std::chrono::seconds write_timeout{30};

    SharedState& state_;
    beast::tcp_stream stream_;
    net::steady_timer body_timer_{stream_.get_executor()};
    beast::flat_buffer buffer_;
    std::optional<bhttp::request_parser<GrowingStringBody>> parser_;
    std::shared_ptr<bhttp::response<bhttp::empty_body>> continue_;
    std::list<std::weak_ptr<Session>>::iterator registration_;
    std::string remote_;
    RequestHead head_;
    std::optional<Intake> intake_;
    bool unread_body_ = false;  // refused with (some of) its body still to come
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point body_started_;
    std::uint64_t body_bytes_ = 0;
    bool watching_body_ = false;
    bool body_late_ = false;
    bool whole_body_late_ = false;
    std::size_t bytes_in_ = 0;
    bool first_request_ = true;
    bool keep_alive_ = true;
    bool waiting_for_request_ = false;
    bool metrics_listener_ = false;
};

class Listener : public std::enable_shared_from_this<Listener> {
public:
    Listener(net::io_context& ioc, SharedState& state, bool metrics_only = false)
        : ioc_(ioc), state_(state), acceptor_(net::make_strand(ioc)), retry_(acceptor_.get_executor()),
          metrics_only_(metrics_only) {}

    void bind(const ListenAddress& address) {
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

    void run() {
        net::dispatch(acceptor_.get_executor(), beast::bind_front_handler(&Listener::accept, shared_from_this()));
    }

    void stop() {
        net::post(acceptor_.get_executor(), [self = shared_from_this()] {
            error_code ec;
            self->acceptor_.close(ec);
            self->retry_.cancel();
        });
    }

private:
    void accept() {
        acceptor_.async_accept(net::make_strand(ioc_), beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
    }

    void on_accept(error_code ec, tcp::socket socket) {
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
        auto peer = Session::peer_of(socket);
        const bool at_limit = state_.connections >= state_.config.max_connections;
        if (at_limit || !state_.admit(peer)) {
            state_.handler.metrics().connection_refused();
            if (state_.refusal_said.due())
                log::warning(at_limit ? "connection refused: --max-connections reached"
                                      : "connection refused: --max-connections-per-address reached for this address",
                             {{"peer", peer}});
            refuse(std::move(socket));
        }
        else std::make_shared<Session>(std::move(socket), state_, metrics_only_, std::move(peer))->start();
        accept();
    }

    static void refuse(tcp::socket&& socket) {
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

    net::io_context& ioc_;
    SharedState& state_;
    tcp::acceptor acceptor_;
    net::steady_timer retry_;
    bool metrics_only_;
};

}  // namespace

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
        std::vector<std::shared_ptr<Session>> open;
        {
            std::lock_guard lock(state.mutex);
            for (auto& weak : state.sessions)
                if (auto s = weak.lock()) open.push_back(std::move(s));
        }
        // Outside the lock: the last reference may go here, and ~Session takes that lock.
        for (auto& s : open) s->notify_server_stopping();
    }
};

Server::Server(const Config& config, const Handler& handler) : impl_(std::make_unique<Impl>(config, handler)) {}

Server::~Server() {
    if (!impl_->threads.empty()) {
        impl_->ioc.stop();
        for (auto& t : impl_->threads) t.join();
    }
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
        while (m.state.connections > 0 && m.signals_seen < 2 && std::chrono::steady_clock::now() < deadline)
            m.changed.wait_for(lock, std::chrono::milliseconds(20));
    }
    if (m.state.connections > 0)
        log::warning("closing connections still open after the grace period", {{"connections", m.state.connections.load()}});
    m.ioc.stop();
    for (auto& t : m.threads) t.join();
    m.threads.clear();
}

}  // namespace esr::http
