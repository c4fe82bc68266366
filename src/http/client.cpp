// The outgoing side: a blocking HTTP(S) client for `register` and `simulate`.
#include "esr/http/client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/err.h>


namespace esr::http {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

std::string Url::origin() const { return (tls ? "https://" : "http://") + host + ":" + port; }

Url parse_url(const std::string& text) {
    Url u;
    std::string rest;
    if (text.rfind("https://", 0) == 0) {
        u.tls = true;
        rest = text.substr(8);
    } else if (text.rfind("http://", 0) == 0) {
        rest = text.substr(7);
    } else {
        throw std::invalid_argument("'" + text + "' is not an http:// or https:// URL");
    }
    auto slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    u.path = slash == std::string::npos ? "/" : rest.substr(slash);
    const std::string default_port = u.tls ? "443" : "80";
    if (!authority.empty() && authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string::npos) throw std::invalid_argument("'" + text + "' has an unclosed [");
        u.host = authority.substr(1, close - 1);
        u.port = close + 1 < authority.size() && authority[close + 1] == ':' ? authority.substr(close + 2) : default_port;
    } else {
        auto colon = authority.rfind(':');
        u.host = authority.substr(0, colon);
        u.port = colon == std::string::npos ? default_port : authority.substr(colon + 1);
    }
    if (u.host.empty()) throw std::invalid_argument("'" + text + "' names no host");
    if (u.port.empty() || u.port.find_first_not_of("0123456789") != std::string::npos)
        throw std::invalid_argument("'" + text + "' has a bad port");
    return u;
}

std::string ClientReply::header(const std::string& name) const {
    auto it = headers.find(lower(name));
    return it == headers.end() ? "" : it->second;
}

// Asio's blocking calls ignore socket timeouts, so each step runs asynchronously on a private
// io_context, under tcp_stream's deadline, and the caller waits for it.
struct Client::Impl {
    ClientOptions options;
    net::io_context ioc;
    ssl::context tls{ssl::context::tls_client};
    std::string origin;  // of the open connection
    std::unique_ptr<beast::tcp_stream> plain;
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
    beast::flat_buffer buffer;

    beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

    /// Runs the operation `start` began until it completes (or its deadline closes the socket).
    template <class Start>
    boost::system::error_code wait(Start start) {
        boost::system::error_code result = net::error::would_block;
        lowest().expires_after(options.timeout);
        start([&](boost::system::error_code ec, auto&&...) { result = ec; });
        ioc.restart();
        ioc.run();
        return result;
    }

    void close() {
        if (plain || secure) {
            boost::system::error_code ec;
            lowest().socket().close(ec);
        }
        secure.reset();
        plain.reset();
        buffer.clear();
        origin.clear();
    }

    void open(const Url& url) {
        close();
        tcp::resolver resolver(ioc);
        boost::system::error_code ec;
        auto endpoints = resolver.resolve(url.host, url.port, ec);
        if (ec) throw ClientError("cannot resolve " + url.host + ": " + ec.message());
        if (url.tls) secure = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc, tls);
        else plain = std::make_unique<beast::tcp_stream>(ioc);
        ec = wait([&](auto handler) { lowest().async_connect(endpoints, [handler](auto e, auto) { handler(e); }); });
        if (ec) {
            close();
            throw ClientError("cannot connect to " + url.origin() + ": " + ec.message());
        }
        if (secure) {
            // SNI, and the name the certificate must carry. SSL_ctrl is what SSL_set_tlsext_host_name
            // expands to, without its C cast.
            if (!SSL_ctrl(secure->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                          const_cast<char*>(url.host.c_str())))
                throw ClientError("cannot set the TLS server name for " + url.host);
            secure->set_verify_callback(ssl::host_name_verification(url.host));
            ec = wait([&](auto handler) { secure->async_handshake(ssl::stream_base::client, handler); });
            if (ec) {
                std::string reason = ec.message();
                long verify = SSL_get_verify_result(secure->native_handle());
                if (verify != X509_V_OK) reason = X509_verify_cert_error_string(verify);
                close();
                throw ClientError("TLS handshake with " + url.origin() + " failed: " + reason);
            }
        }
        origin = url.origin();
    }

    template <class Stream>
    ClientReply exchange(Stream& stream, bhttp::request<bhttp::string_body>& req) {
        auto ec = wait([&](auto handler) { bhttp::async_write(stream, req, handler); });
        if (ec) throw boost::system::system_error(ec);
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(64 << 20);
        ec = wait([&](auto handler) { bhttp::async_read(stream, buffer, parser, handler); });
        if (ec == beast::error::timeout) throw boost::system::system_error(net::error::timed_out);
        if (ec) throw boost::system::system_error(ec);
        const auto& res = parser.get();
        ClientReply reply;
        reply.status = res.result_int();
        for (const auto& f : res) {
            auto& slot = reply.headers[lower(std::string(f.name_string()))];
            slot += (slot.empty() ? "" : ", ") + std::string(f.value());
        }
        reply.body = res.body();
        if (!res.keep_alive()) close();
        return reply;
    }
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>()) {
    impl_->options = std::move(options);
    impl_->tls.set_default_verify_paths();
    if (impl_->options.ca_file) {
        boost::system::error_code ec;
        impl_->tls.load_verify_file(*impl_->options.ca_file, ec);
        if (ec) throw ClientError("cannot load the CA file " + *impl_->options.ca_file + ": " + ec.message());
    }
    impl_->tls.set_verify_mode(ssl::verify_peer);
}

Client::~Client() { impl_->close(); }

ClientReply Client::request(const std::string& method, const Url& url,
                            const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body) {
    bhttp::request<bhttp::string_body> req;
    req.method_string(method);
    req.target(url.path);
    req.version(11);
    req.set(bhttp::field::host, url.host);
    req.set(bhttp::field::user_agent, "eventsshop-receiver");
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = body;
    req.prepare_payload();
    // A kept-alive connection the server has since closed fails at once: try once on a new one.
    for (int attempt = 0;; ++attempt) {
        bool reused = impl_->origin == url.origin();
        if (!reused) impl_->open(url);
        try {
            return impl_->secure ? impl_->exchange(*impl_->secure, req) : impl_->exchange(*impl_->plain, req);
        } catch (const boost::system::system_error& e) {
            impl_->close();
            // A timeout is the server's silence, not a stale connection: do not send again.
            if (!reused || attempt > 0 || e.code() == net::error::timed_out)
                throw ClientError("no answer from " + url.origin() + ": " + e.code().message());
        }
    }
}

}  // namespace esr::http
