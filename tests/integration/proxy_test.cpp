// The nginx site of deploy/, run for real on loopback in front of the daemon.
#include "nginx.hpp"
#include "world.hpp"

#include "esr/http/client.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <pqxx/nontransaction>
#include <pqxx/result>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include <sys/socket.h>

#include <fstream>
#include <functional>
#include <optional>
#include <regex>
#include <thread>

using namespace esr::test;
using namespace std::chrono_literals;

namespace {

/// deploy/nginx-eventsshop-receiver.conf in front of `daemon_port`, with a 2 MB body limit unless
/// `shipped_body_limit`.
std::string site_config(int listen_port, int daemon_port, const std::filesystem::path& pki,
                        bool shipped_body_limit = false) {
    std::vector<std::pair<std::string, std::string>> more{
        {R"(server 127\.0\.0\.1:8080;)", "server 127.0.0.1:" + std::to_string(daemon_port) + ";"}};
    if (!shipped_body_limit) more.emplace_back(R"(client_max_body_size 256m;)", "client_max_body_size 2m;");
    return shipped_site("nginx-eventsshop-receiver.conf", listen_port, pki, more);
}

/// A daemon with the shipped settings behind the shipped site.
struct BehindNginx {
    explicit BehindNginx(std::vector<std::string> daemon_flags = {"--trusted-proxies", "127.0.0.1, ::1",
                                                                  "--auth-failure-limit", "20"},
                         bool shipped_body_limit = false)
        : site(std::move(daemon_flags)) {
        std::string log;
        if (!make_test_certificates(dir.path, &log)) throw std::runtime_error(log);
        nginx.emplace(dir.path / "nginx", site_config(port, site.port, dir.path, shipped_body_limit), port);
        client.emplace(esr::http::ClientOptions{(dir.path / "ca.pem").string(), 30s});
    }
    esr::http::ClientReply request(const std::string& method, const std::string& path, const std::string& body = "",
                                std::vector<std::pair<std::string, std::string>> headers = {}) {
        auto url = esr::http::parse_url("https://localhost:" + std::to_string(port) + path);
        return client->request(method, url, headers, body);
    }
    /// Files nginx holds in its body buffer directory now.
    std::size_t buffered_body_files() const {
        std::size_t n = 0;
        std::error_code ec;
        for (auto it = std::filesystem::recursive_directory_iterator(dir.path / "nginx/temp/body", ec);
             !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
            if (it->is_regular_file()) ++n;
        return n;
    }

    Site site;
    TempDir dir;
    int port = free_port();
    std::optional<Nginx> nginx;
    std::optional<esr::http::Client> client;  // after the certificates
};

/// Sends `head` and `body_bytes` bytes of body over TLS, and returns what comes back within `wait`
/// while the rest of the body is still owed.
std::string answer_to_a_partial_upload(int port, const std::string& head, std::size_t body_bytes,
                                       std::chrono::seconds wait, const std::function<void()>& meanwhile) {
    namespace asio = boost::asio;
    asio::io_context ioc;
    asio::ssl::context tls(asio::ssl::context::tls_client);
    asio::ssl::stream<asio::ip::tcp::socket> stream(ioc, tls);
    stream.set_verify_mode(asio::ssl::verify_none);  // what is tested here is not the certificate
    // SSL_set_tlsext_host_name, without the macro's C cast.
    SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>("localhost"));
    stream.next_layer().connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    timeval timeout{static_cast<time_t>(wait.count()), 0};
    ::setsockopt(stream.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    stream.handshake(asio::ssl::stream_base::client);
    asio::write(stream, asio::buffer(head));
    const std::string piece(64 * 1024, ' ');
    boost::system::error_code ec;
    for (std::size_t sent = 0; sent < body_bytes && !ec; sent += piece.size()) asio::write(stream, asio::buffer(piece), ec);
    std::this_thread::sleep_for(500ms);
    meanwhile();
    std::string answer;
    char buf[4096];
    while (answer.find("\r\n\r\n") == std::string::npos) {
        auto n = stream.read_some(asio::buffer(buf), ec);
        if (ec) break;
        answer.append(buf, n);
    }
    return answer;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(behind_nginx)

// Issue 13: behind the proxy every client has the proxy's address (unless it is trusted), and the
// throttle ran before the credential check, so 20 bad requests from anyone locked EventsShop out.
BOOST_AUTO_TEST_CASE(failures_through_the_site_never_lock_out_valid_credentials) {
    if (!have_nginx()) return;
    BehindNginx behind;
    for (int i = 0; i < 25; ++i) {
        auto r = behind.request("POST", "/", unique_body("guess"), {{"Authorization", "Bearer guess-" + std::to_string(i)}});
        BOOST_TEST((r.status == 401u || r.status == 429u), r.status);
    }
    auto ok = behind.request("POST", "/", unique_body("eventsshop after a scanner"), {{"Authorization", bearer_new}});
    BOOST_TEST(ok.status == 202u, ok.body);
    // The scanner itself is throttled, under its own address (the shipped config trusts the site).
    auto more = behind.request("POST", "/", unique_body("guess"), {{"Authorization", "Bearer again"}});
    BOOST_TEST(more.status == 429u, more.body);
    BOOST_TEST(behind.site.daemon->log().find("\"remote_addr\":\"127.0.0.1\"") != std::string::npos);
}

// Issue 13: the site forwarded /metrics, /readyz and /healthz to the internet.
BOOST_AUTO_TEST_CASE(internal_endpoints_are_not_reachable_through_the_site) {
    if (!have_nginx()) return;
    BehindNginx behind;
    for (const char* path : {"/metrics", "/readyz", "/healthz", "//metrics", "/metrics/", "/readyz?x=1"}) {
        auto r = behind.request("GET", path);
        BOOST_TEST(r.status == 404u, path << ": " << r.status);
        BOOST_TEST(r.body.find("eventsshop_") == std::string::npos, path);
    }
    BOOST_TEST(behind.site.get("/readyz").status == 200u);  // still there for the operator, directly
}

// Issue 13: with request buffering on, nginx read and stored up to 256 MiB from anyone before the
// daemon saw the header. Streamed, the daemon refuses it at the header.
BOOST_AUTO_TEST_CASE(an_unauthenticated_upload_is_cut_at_its_header) {
    if (!have_nginx()) return;
    BehindNginx behind({"--trusted-proxies", "127.0.0.1, ::1"}, true);
    std::size_t buffered = 0;
    const std::string answer = answer_to_a_partial_upload(
        behind.port,
        "POST / HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer wrong\r\nContent-Length: 209715200\r\n\r\n",
        4 << 20, 10s, [&] { buffered = behind.buffered_body_files(); });
    BOOST_TEST(answer.find("HTTP/1.1 401") == 0u, answer.substr(0, 200));
    BOOST_TEST(buffered == 0u);
}

BOOST_AUTO_TEST_CASE(deliveries_pass_through_the_shipped_nginx_site) {
    if (!std::filesystem::exists("/usr/sbin/nginx")) {
        BOOST_TEST_MESSAGE("nginx is not installed (scripts/install-deps.sh installs it): skipped");
        return;
    }
    Site site({"--trusted-proxies", "127.0.0.1/32", "--max-body-bytes", "8388608"});
    TempDir dir;
    std::string log;
    BOOST_TEST_REQUIRE(make_test_certificates(dir.path, &log), log);
    int port = free_port();
    Nginx nginx(dir.path / "nginx", site_config(port, site.port, dir.path), port);

    esr::http::Client client({(dir.path / "ca.pem").string(), 30s});
    auto url = esr::http::parse_url("https://localhost:" + std::to_string(port) + "/eventsinfo");
    auto post = [&](const std::string& body, const std::string& authorization,
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
        headers.emplace_back("Authorization", authorization);
        return client.request("POST", url, headers, body);
    };

    // Stored, with the client's address as the proxy chain says it.
    auto ok = post(unique_body("through nginx"), bearer_new, {{"X-Forwarded-For", "203.0.113.50"}});
    BOOST_TEST_REQUIRE(ok.status == 202u, ok.body);
    pqxx::connection c(site.pg.url());
    pqxx::nontransaction tx(c);
    auto id = boost::json::parse(ok.body).at("delivery_id").as_int64();
    BOOST_TEST(tx.exec_params1("SELECT host(remote_addr) FROM eventsshop.deliveries WHERE id = $1", id)[0]
                   .as<std::string>() == "203.0.113.50");

    // A large body passes (1.5 MB, under nginx's 2 MB)...
    std::string large = R"({"eventId": 777000, "eventName": "big", "notes": [)";
    for (int i = 0; i < 1500; ++i) large += (i ? ",\"" : "\"") + std::string(1000, 'x') + "\"";
    large += "]}";
    auto big = post(large, bearer_new);
    BOOST_TEST(big.status == 202u, big.body.substr(0, 200));
    // ...one over nginx's limit is refused by nginx with 413.
    auto too_big = post(std::string(3'000'000, ' ') + "{}", bearer_new);
    BOOST_TEST(too_big.status == 413u);

    // The daemon's 401 reaches the client unchanged.
    auto refused = post(unique_body("wrong token"), "Bearer wrong");
    BOOST_TEST(refused.status == 401u);
    BOOST_TEST(refused.header("www-authenticate").find("Bearer") != std::string::npos);
    BOOST_TEST(refused.body.find("\"error\":\"unauthorized\"") != std::string::npos, refused.body);
}

BOOST_AUTO_TEST_SUITE_END()
