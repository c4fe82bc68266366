// The nginx site of deploy/, run for real on loopback in front of the daemon.
#include "world.hpp"

#include "esr/http/client.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <pqxx/nontransaction>
#include <pqxx/result>

#include <fstream>
#include <regex>
#include <thread>

using namespace esr::test;
using namespace std::chrono_literals;

namespace {

/// deploy/nginx-eventsshop-receiver.conf with the test's ports, certificate and a 2 MB body limit.
std::string site_config(int listen_port, int daemon_port, const std::filesystem::path& pki) {
    std::string site = read_file(std::filesystem::path(ESR_SOURCE_DIR) / "deploy/nginx-eventsshop-receiver.conf");
    auto replace = [&](const std::string& pattern, const std::string& with) {
        std::string before = site;
        site = std::regex_replace(site, std::regex(pattern), with);
        if (site == before) throw std::runtime_error("the nginx site no longer has " + pattern);
    };
    replace(R"(listen 443 ssl http2;)", "listen 127.0.0.1:" + std::to_string(listen_port) + " ssl http2;");
    replace(R"(\n\s*listen \[::\]:443 ssl http2;)", "");
    replace(R"(server 127\.0\.0\.1:8080;)", "server 127.0.0.1:" + std::to_string(daemon_port) + ";");
    replace(R"(ssl_certificate\s+\S+;)", "ssl_certificate " + (pki / "server.pem").string() + ";");
    replace(R"(ssl_certificate_key\s+\S+;)", "ssl_certificate_key " + (pki / "server.key").string() + ";");
    replace(R"(client_max_body_size 256m;)", "client_max_body_size 2m;");
    return site;
}

struct Nginx {
    std::unique_ptr<Daemon> process;
    Nginx(const std::filesystem::path& dir, const std::string& site, int port) {
        std::filesystem::create_directories(dir / "temp");
        std::filesystem::permissions(dir / "temp", std::filesystem::perms::all);
        std::ofstream(dir / "site.conf") << site;
        std::ofstream(dir / "nginx.conf")
            << "daemon off;\nworker_processes 1;\npid " << (dir / "nginx.pid").string() << ";\nerror_log "
            << (dir / "error.log").string() << " info;\nevents { worker_connections 64; }\nhttp {\n"
            << "  access_log off;\n  client_body_temp_path " << (dir / "temp/body").string()
            << ";\n  proxy_temp_path " << (dir / "temp/proxy").string() << ";\n  include "
            << (dir / "site.conf").string() << ";\n}\n";
        process = std::make_unique<Daemon>(std::vector<std::string>{"/usr/sbin/nginx", "-c", (dir / "nginx.conf").string(),
                                                                    "-p", dir.string()},
                                           std::map<std::string, std::string>{}, dir / "nginx.out", false);
        for (int i = 0; i < 100; ++i) {
            try {
                RawConnection listening(port);
                return;
            } catch (const std::exception&) {
                std::this_thread::sleep_for(50ms);
            }
        }
        throw std::runtime_error("nginx did not start: " + read_file(dir / "error.log"));
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(behind_nginx)

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
