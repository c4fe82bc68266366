#include "fake_eventsshop.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <thread>

namespace esr::test {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

struct FakeEventsShop::Impl {
    bool tls = false;
    net::io_context ioc;
    ssl::context tls_context{ssl::context::tls_server};
    tcp::acceptor acceptor{ioc};
    std::thread thread;
    std::atomic<bool> stopping{false};
    mutable std::mutex mutex;
    std::map<std::string, std::deque<CannedReply>> scripts;
    std::vector<RecordedRequest> recorded;

    CannedReply reply_for(const std::string& path) {
        std::lock_guard lock(mutex);
        auto& queue = scripts[path];
        if (!queue.empty()) {
            auto r = queue.front();
            queue.pop_front();
            return r;
        }
        if (path.size() >= 10 && path.substr(path.size() - 10) == "/authtoken")
            return {200, R"({"token": "jwt-from-fake", "isAdmin": false})", {}};
        if (path.size() >= 10 && path.substr(path.size() - 10) == "/endpoint/") return {202, "{}", {}};
        return {404, R"({"message": "no such path"})", {}};
    }

    template <class Stream>
    void serve_one(Stream& stream) {
        beast::flat_buffer buffer;
        bhttp::request<bhttp::string_body> req;
        bhttp::read(stream, buffer, req);
        std::string path(req.target());
        {
            std::lock_guard lock(mutex);
            recorded.push_back({std::string(req.method_string()), path, std::string(req[bhttp::field::authorization]),
                                req.body()});
        }
        auto canned = reply_for(path);
        std::this_thread::sleep_for(canned.stall);
        bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(canned.status), 11};
        res.set(bhttp::field::content_type, "application/json");
        for (const auto& [k, v] : canned.headers) res.set(k, v);
        res.body() = canned.body;
        res.keep_alive(false);
        res.prepare_payload();
        bhttp::write(stream, res);
    }

    void run() {
        for (;;) {
            tcp::socket socket(ioc);
            boost::system::error_code ec;
            acceptor.accept(socket, ec);
            if (ec || stopping) return;  // the test is over
            try {
                if (tls) {
                    ssl::stream<tcp::socket> stream(std::move(socket), tls_context);
                    stream.handshake(ssl::stream_base::server);
                    serve_one(stream);
                    stream.shutdown(ec);
                } else {
                    serve_one(socket);
                    socket.shutdown(tcp::socket::shutdown_both, ec);
                }
            } catch (const std::exception&) {
                // a client that refused our certificate, or went away: next
            }
        }
    }
};

FakeEventsShop::FakeEventsShop(std::optional<TlsFiles> tls) : impl_(std::make_unique<Impl>()) {
    if (tls) {
        impl_->tls = true;
        impl_->tls_context.use_certificate_chain_file(tls->certificate_chain);
        impl_->tls_context.use_private_key_file(tls->private_key, ssl::context::pem);
    }
    tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), 0);
    impl_->acceptor.open(endpoint.protocol());
    impl_->acceptor.set_option(net::socket_base::reuse_address(true));
    impl_->acceptor.bind(endpoint);
    impl_->acceptor.listen();
    impl_->thread = std::thread([this] { impl_->run(); });
}

FakeEventsShop::~FakeEventsShop() {
    boost::system::error_code ec;
    // Wake the blocking accept with a connection; the flag tells it to stop.
    impl_->stopping = true;
    {
        net::io_context ioc;
        tcp::socket poke(ioc);
        poke.connect(impl_->acceptor.local_endpoint(ec), ec);
    }
    if (impl_->thread.joinable()) impl_->thread.join();
    impl_->acceptor.close(ec);
}

std::string FakeEventsShop::base_url() const {
    auto port = std::to_string(impl_->acceptor.local_endpoint().port());
    return impl_->tls ? "https://localhost:" + port : "http://127.0.0.1:" + port;
}

void FakeEventsShop::script(const std::string& path, std::vector<CannedReply> replies) {
    std::lock_guard lock(impl_->mutex);
    auto& q = impl_->scripts[path];
    for (auto& r : replies) q.push_back(std::move(r));
}

std::vector<RecordedRequest> FakeEventsShop::requests() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->recorded;
}

std::vector<RecordedRequest> FakeEventsShop::requests_to(const std::string& path) const {
    std::vector<RecordedRequest> out;
    for (auto& r : requests())
        if (r.path == path) out.push_back(r);
    return out;
}

}  // namespace esr::test
