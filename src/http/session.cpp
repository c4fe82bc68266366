#include "http/session.hpp"

#include "esr/config.hpp"
#include "esr/http/answers.hpp"
#include "esr/address.hpp"
#include "esr/log.hpp"
#include "esr/metrics.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>

namespace esr::http {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

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

std::string peer_of(const tcp::socket& socket) {
    error_code ec;
    auto peer = socket.remote_endpoint(ec);
    return ec ? std::string() : peer.address().to_string();
}

Session::Session(tcp::socket&& socket, SharedState& state, bool metrics_listener, SharedState::Seat seat)
    : state_(state),
      seat_(std::move(seat)),
      stream_(std::move(socket)),
      // Bytes read but not yet parsed: a header, or one read of body. Bounded, so a chunk
      // header with endless extensions cannot grow it (they count as header bytes).
      buffer_(state.config.max_header_bytes + read_size),
      metrics_listener_(metrics_listener) {
    buffer_.reserve(first_buffer_size);
}

void Session::start() {
    seat_.occupy(weak_from_this());
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::read_header, shared_from_this()));
}

void Session::notify_server_stopping() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
        if (self->waiting_for_request_) self->close();
    });
}

void Session::read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(state_.config.max_header_bytes));
    // No body limit yet: Beast would enforce it while reading the header, before credentials
    // are checked. The handler judges Content-Length; read_body() sets the limit.
    parser_->body_limit(boost::none);
    waiting_for_request_ = buffer_.size() == 0;
    if (waiting_for_request_ && state_.stopping) return close();
    // The first request must arrive within the header timeout; later ones get the idle timeout.
    stream_.expires_after(first_request_ ? state_.config.header_timeout : state_.config.idle_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_header, shared_from_this()));
}

void Session::on_header(error_code ec, std::size_t bytes) {
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
    if (ec == bhttp::error::header_limit) {
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

    route_ = route_of(head_.target, state_.config.base_path);  // once, for the handler and /metrics
    auto decision = state_.handler.on_header(head_, route_);
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

void Session::read_body() {
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
void Session::watch_body() {
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
void Session::read_some_body() {
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

std::chrono::steady_clock::time_point Session::body_deadline() const {
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

void Session::on_body(error_code ec) {
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
                                                   std::to_string(state_.config.min_body_rate) + " bytes per second"),
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
        net::post(self->stream_.get_executor(), [self, r = std::move(r)]() mutable { self->answer(std::move(r), false); });
    });
}

void Session::answer(Response r, bool close_after) {
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

void Session::log_request(const Response& r, std::size_t bytes_out) {
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
    state_.metrics.request(route_, r.status, us, bytes_in_);
    // A 5xx is written at once. The other lines of this turn of the event loop go out together, in
    // one system call instead of one each: the flush, posted to the io_context rather than this
    // session's strand, runs after the handlers already queued, the answers of the rest of a
    // writer's batch among them.
    if (r.status >= 500) {
        log::write(log::Level::warning, "request", f);
    } else if (log::write_soon(log::Level::info, "request", f)) {
        auto& context = net::query(stream_.get_executor(), net::execution::context);
        net::post(static_cast<net::io_context&>(context), [] { log::flush(); });
    }
    head_ = {};
    route_ = Route::other;
    intake_.reset();
}

void Session::close() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
}

// Refused at its header, the body was never read. Closing now would make the kernel answer the
// bytes still arriving with a reset, which can destroy our answer before the peer reads it (a
// proxy streaming the body then reports 502). So, like nginx's lingering close: stop sending,
// read and drop what comes for a short while, then close.
void Session::linger() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(2));
    buffer_.clear();
    discard(0);
}

void Session::discard(std::size_t dropped) {
    constexpr std::size_t at_most = 4 << 20;
    stream_.async_read_some(buffer_.prepare(16 << 10), [self = shared_from_this(), dropped](error_code ec, std::size_t n) {
        self->buffer_.clear();
        if (ec || dropped + n > at_most) return self->close();
        self->discard(dropped + n);
    });
}

}  // namespace esr::http
