#pragma once

// One connection: reads requests, asks the Handler about each, writes the answers.

#include "esr/http/handler.hpp"
#include "esr/http/route.hpp"
#include "http/growing_string_body.hpp"
#include "http/shared_state.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace esr::http {

/// A Response as Beast writes it.
boost::beast::http::response<boost::beast::http::string_body> to_message(const Response& r, bool keep_alive);

/// The peer's address as the listener sees it, before a session is made ("" when unknown).
std::string peer_of(const boost::asio::ip::tcp::socket& socket);

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(boost::asio::ip::tcp::socket&& socket, SharedState& state, bool metrics_listener, SharedState::Seat seat);

    void start();

    /// Called on the session's strand when the server stops: a connection waiting for its next
    /// request is closed now; one in the middle of a request finishes it and then closes.
    void notify_server_stopping();

private:
    using error_code = boost::system::error_code;

    void read_header();
    void on_header(error_code ec, std::size_t bytes);
    void read_body();
    void watch_body();
    void read_some_body();
    std::chrono::steady_clock::time_point body_deadline() const;
    void on_body(error_code ec);
    void answer(Response r, bool close_after);
    void log_request(const Response& r, std::size_t bytes_out);
    void close();
    void linger();
    void discard(std::size_t dropped);

    static constexpr std::size_t read_size = 64 << 10;  // what Beast reads at most at once
    // Beast reads what the buffer has room for, at least 512 bytes, and grows it only as needed:
    // an empty buffer took a ~1.3 KB delivery in three reads of 512. Room for a whole small
    // delivery, header and body, in one; pages are only resident once a read fills them.
    static constexpr std::size_t first_buffer_size = 16 << 10;
    // An answer is a few KiB: a peer that does not read it in this time is not going to.
    static constexpr std::chrono::seconds write_timeout{30};

    SharedState& state_;
    SharedState::Seat seat_;
    const std::string& remote_ = seat_.peer();  // the address the seat was counted for
    boost::beast::tcp_stream stream_;
    boost::asio::steady_timer body_timer_{stream_.get_executor()};
    boost::beast::flat_buffer buffer_;
    std::optional<boost::beast::http::request_parser<GrowingStringBody>> parser_;
    std::shared_ptr<boost::beast::http::response<boost::beast::http::empty_body>> continue_;
    RequestHead head_;
    Route route_ = Route::other;  // of the request in progress (other until its header is read)
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

}  // namespace esr::http
