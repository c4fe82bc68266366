#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional/optional.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string>

namespace esr::http {

/// A request body held as a std::string, as Beast's string_body, but grown as bytes arrive: Beast's
/// reserves the declared Content-Length at once, so four connections declaring 256 MiB and sending
/// a byte each would hold 1 GiB. Here memory follows what was received: growth is geometric, up to
/// the declared length, so a body that does come whole is copied at most a few times. The capacity
/// reserved is at most four times what was received (the last step takes the declared length), and
/// only what was received is ever touched, so resident memory stays within twice it.
struct GrowingStringBody {
    using value_type = std::string;

    class reader {
    public:
        template <bool isRequest, class Fields>
        reader(boost::beast::http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

        void init(const boost::optional<std::uint64_t>& length, boost::system::error_code& ec) {
            declared_ = length ? *length : 0;
            body_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(declared_, first_reserve)));
            ec = {};
        }

        template <class ConstBufferSequence>
        std::size_t put(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
            const auto extra = boost::asio::buffer_size(buffers);
            const auto size = body_.size();
            if (size + extra > body_.capacity()) {
                std::uint64_t grown = std::max<std::uint64_t>(2 * static_cast<std::uint64_t>(body_.capacity()), size + extra);
                // Within twice the next step of the declared length: that length at once, rather than
                // one more step and a last copy (each a body's worth of fresh pages to fault in).
                if (declared_ >= size + extra && declared_ <= 2 * grown) grown = declared_;
                try {
                    body_.reserve(static_cast<std::size_t>(grown));
                } catch (const std::exception&) {  // length_error, bad_alloc: a body we cannot hold
                    ec = boost::beast::http::error::body_limit;
                    return 0;
                }
            }
            body_.resize(size + extra);
            char* to = body_.data() + size;
            for (auto b : boost::beast::buffers_range_ref(buffers)) {
                std::memcpy(to, b.data(), b.size());
                to += b.size();
            }
            ec = {};
            return extra;
        }

        void finish(boost::system::error_code& ec) { ec = {}; }

    private:
        static constexpr std::uint64_t first_reserve = 64 << 10;
        value_type& body_;
        std::uint64_t declared_ = 0;
    };
};

}  // namespace esr::http
