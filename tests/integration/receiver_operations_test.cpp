// The real daemon against a real PostgreSQL over real loopback sockets: the commands (migrate,
// simulate), logs, reloads, signals, systemd notification, metrics and readiness.
#include "world.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <pqxx/binarystring>
#include <pqxx/connection>
#include <pqxx/nontransaction>

#include <atomic>
#include <csignal>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace esr::test;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(receiver)


BOOST_AUTO_TEST_CASE(migrate_again_is_harmless) {
    std::string out;
    BOOST_TEST(run({ESR_DAEMON_PATH, "migrate"}, world().env, &out) == 0, out);
    BOOST_TEST(out.find("0 migrations applied") != std::string::npos, out);
}


BOOST_AUTO_TEST_CASE(migrate_with_unreachable_database_exits_2) {
    auto env = world().env;
    env["ESR_DATABASE_URL"] = "postgresql://postgres@127.0.0.1:" + std::to_string(free_port()) + "/x";
    std::string out;
    BOOST_TEST(run({ESR_DAEMON_PATH, "migrate"}, env, &out) == 2);
    BOOST_TEST(out.find("--database-url") != std::string::npos, out);
}


// Issue 12: `journalctl -u eventsshop-receiver -o cat | jq` must read every line the unit writes,
// command errors included (they are JSON whenever stderr is not a terminal).
BOOST_AUTO_TEST_CASE(every_line_the_daemon_and_its_commands_write_to_a_log_is_json) {
    auto all_json = [](const std::string& text, const std::string& what) {
        std::istringstream lines(text);
        int n = 0;
        for (std::string line; std::getline(lines, line); ++n) {
            boost::system::error_code ec;
            auto v = boost::json::parse(line, ec);
            BOOST_TEST((!ec && v.is_object() && v.as_object().contains("level")), what << ": not JSON: " << line);
        }
        BOOST_TEST(n > 0, what << " wrote nothing");
    };
    all_json(world().daemon->log(), "serve");
    auto env = world().env;
    std::string out;
    BOOST_TEST(run({ESR_DAEMON_PATH, "serve", "--listen", "nowhere:80"}, env, &out) == 2);
    all_json(out, "serve with a bad setting");
    env["ESR_DATABASE_URL"] = "postgresql://postgres@127.0.0.1:" + std::to_string(free_port()) + "/x";
    BOOST_TEST(run({ESR_DAEMON_PATH, "migrate"}, env, &out) == 2);
    all_json(out, "migrate with no database");
    BOOST_TEST(out.find("--database-url") != std::string::npos, out);
}


// Issue 12: rotating credentials needs no restart. SIGHUP (systemctl reload) reads them again;
// deliveries flowing on a keep-alive connection meanwhile all get 2xx, none is refused or dropped.
BOOST_AUTO_TEST_CASE(a_reload_rotates_credentials_with_deliveries_flowing) {
    TempDir dir;
    const auto tokens = dir.path / "bearer-tokens";
    std::ofstream(tokens) << "token-one\n";
    auto env = world().env;
    env.erase("ESR_BEARER_TOKENS");
    env["ESR_BEARER_TOKENS_FILE"] = tokens.string();
    const int port = free_port();
    auto daemon = start_daemon(port, env, dir.path);

    std::atomic<bool> flowing{true};
    std::atomic<int> answered{0}, not_2xx{0};
    std::string failure;
    std::thread sender([&] {
        try {
            HttpClient client(port);  // one keep-alive connection through both reloads
            for (int i = 0; flowing; ++i) {
                auto r = client.request("POST", "/", R"({"eventId": )" + std::to_string(62'000'000 + i) + "}",
                                        {{"Authorization", "Bearer token-one"}});
                ++answered;
                if (r.status / 100 != 2) ++not_2xx;
            }
        } catch (const std::exception& e) {
            failure = e.what();
        }
    });
    auto post_with = [&](const std::string& token) {
        return HttpClient(port).request("POST", "/", R"({"eventId": 62999999})", {{"Authorization", "Bearer " + token}})
            .status;
    };
    auto reloads = [&] {
        const std::string log = daemon->log();
        std::size_t n = 0;
        for (auto at = log.find("\"reloaded\""); at != std::string::npos; at = log.find("\"reloaded\"", at + 1)) ++n;
        return n;
    };
    auto reload = [&](const std::string& contents) {
        std::ofstream(tokens, std::ios::trunc) << contents;
        const auto before = reloads();
        ::kill(daemon->pid(), SIGHUP);
        for (int i = 0; i < 100 && reloads() == before; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        BOOST_TEST_REQUIRE(reloads() == before + 1, daemon->log());
    };
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    BOOST_TEST(post_with("token-two") == 401u);
    reload("token-one,token-two\n");  // both valid while EventsShop switches
    BOOST_TEST(post_with("token-two") / 100 == 2u, daemon->log());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    flowing = false;
    sender.join();
    BOOST_TEST(failure.empty(), failure);
    BOOST_TEST(not_2xx == 0, not_2xx << " of " << answered << " deliveries were not acknowledged");
    BOOST_TEST(answered > 10);

    reload("token-two\n");  // the old one retired
    BOOST_TEST(post_with("token-one") == 401u);
    BOOST_TEST(post_with("token-two") / 100 == 2u);
    BOOST_TEST(daemon->running());
    BOOST_TEST(daemon->terminate() == 0);
}


BOOST_AUTO_TEST_CASE(simulate_sends_generated_deliveries_and_reports_them) {
    auto impacts_before = count_rows("eventsshop.event_impacts");
    std::string out;
    const std::string url = "http://127.0.0.1:" + std::to_string(world().port) + "/";
    int status = run({ESR_DAEMON_PATH, "simulate", "--url", url, "--kind", "eventimpact", "--count", "5", "--seed", "7"},
                     world().env, &out);
    BOOST_TEST(status == 0, out);
    BOOST_TEST(out.find("status: 202 x5") != std::string::npos, out);
    BOOST_TEST(out.find("acknowledged 5 of 5") != std::string::npos, out);
    BOOST_TEST(count_rows("eventsshop.event_impacts") == impacts_before + 25);

    // The same seed gives the same bodies: duplicates, still acknowledged.
    status = run({ESR_DAEMON_PATH, "simulate", "--url", url, "--kind", "eventimpact", "--count", "5", "--seed", "7",
                  "--auth", "basic"}, world().env, &out);
    BOOST_TEST(status == 0, out);
    BOOST_TEST(out.find("status: 200 x5") != std::string::npos, out);

    // Files, and a demand matrix.
    TempDir bodies;
    std::filesystem::copy(std::filesystem::path(ESR_FIXTURES_DIR) / "status-notification.json", bodies.path / "a.json");
    std::filesystem::copy(std::filesystem::path(ESR_FIXTURES_DIR) / "eventimpact-rows.json", bodies.path / "b.json");
    status = run({ESR_DAEMON_PATH, "simulate", "--url", url, "--file", bodies.path.string()}, world().env, &out);
    BOOST_TEST(status == 0, out);
    BOOST_TEST(out.find("sent 2 deliveries") != std::string::npos, out);
    auto demand_before = count_rows("eventsshop.hotel_demand");
    status = run({ESR_DAEMON_PATH, "simulate", "--url", url, "--kind", "hoteldemand", "--hotels", "3", "--days", "4",
                  "--count", "2", "--seed", "11"}, world().env, &out);
    BOOST_TEST(status == 0, out);
    BOOST_TEST(count_rows("eventsshop.hotel_demand") == demand_before + 24);
}


BOOST_AUTO_TEST_CASE(simulate_exits_1_when_deliveries_are_not_acknowledged) {
    auto env = world().env;
    env["ESR_BEARER_TOKENS"] = "not-the-token";
    std::string out;
    int status = run({ESR_DAEMON_PATH, "simulate", "--url", "http://127.0.0.1:" + std::to_string(world().port) + "/",
                      "--count", "3"}, env, &out);
    BOOST_TEST(status == 1, out);
    BOOST_TEST(out.find("401 x3") != std::string::npos, out);
    BOOST_TEST(run({ESR_DAEMON_PATH, "simulate", "--url", "ftp://x/"}, world().env, &out) == 2);
    BOOST_TEST(out.find("--url") != std::string::npos, out);
}


BOOST_AUTO_TEST_CASE(metrics_are_scraped_and_move_as_deliveries_arrive) {
    auto value = [](const std::string& text, const std::string& series) -> long long {
        auto at = text.find("\n" + series + " ");
        if (at == std::string::npos) return -1;
        return std::stoll(text.substr(at + series.size() + 2));
    };
    auto before = HttpClient(world().port).request("GET", "/metrics");
    BOOST_TEST_REQUIRE(before.status == 200u);
    BOOST_TEST(before.header("content-type").find("text/plain") == 0u);
    BOOST_TEST(post("/hoteldemand", unique_body("metrics")).status == 202u);
    post("/", unique_body("metrics"), "Bearer wrong");
    auto after = HttpClient(world().port).request("GET", "/metrics").body;
    BOOST_TEST(value(after, "eventsshop_deliveries_total{kind=\"hoteldemand\"}") ==
               value(before.body, "eventsshop_deliveries_total{kind=\"hoteldemand\"}") + 1);
    BOOST_TEST(value(after, "eventsshop_auth_failures_total") == value(before.body, "eventsshop_auth_failures_total") + 1);
    BOOST_TEST(value(after, "eventsshop_http_requests_total{route=\"hoteldemand\",code=\"202\"}") >= 1);
    BOOST_TEST(value(after, "eventsshop_database_up") == 1);
    BOOST_TEST(value(after, "eventsshop_connections_open") >= 1);
    BOOST_TEST(value(after, "eventsshop_commit_duration_seconds_count") >= 1);
}


// systemd's Type=notify: READY=1 once listening, STOPPING=1 on SIGTERM, through $NOTIFY_SOCKET.
BOOST_AUTO_TEST_CASE(readiness_and_stopping_are_notified_to_systemd) {
    TempDir dir;
    const auto socket_path = (dir.path / "notify").string();
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
    BOOST_TEST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    auto receive = [&] {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 5000) <= 0) return std::string();
        char buf[512];
        auto n = ::recv(fd, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
    };
    auto env = world().env;
    env["NOTIFY_SOCKET"] = socket_path;
    int port = free_port();
    auto daemon = start_daemon(port, env, dir.path);
    BOOST_TEST(receive().find("READY=1") != std::string::npos);
    BOOST_TEST(daemon->terminate() == 0);
    BOOST_TEST(receive().find("STOPPING=1") != std::string::npos);
    ::close(fd);
}


BOOST_AUTO_TEST_CASE(sigterm_finishes_and_exits_zero) {
    int port = free_port();
    auto d = start_daemon(port, world().env, world().dir.path, {"--shutdown-grace", "5s"});
    HttpClient idle(port);  // an idle keep-alive connection must not hold shutdown up
    BOOST_TEST(idle.request("GET", "/healthz").status == 200u);
    auto start = std::chrono::steady_clock::now();
    BOOST_TEST(d->terminate() == 0);
    BOOST_TEST((std::chrono::steady_clock::now() - start < 3s));
    BOOST_TEST(d->log().find("\"msg\":\"stopped\"") != std::string::npos);
}


// With a PostgreSQL and daemon of its own, as it stops the database under the daemon.
BOOST_AUTO_TEST_CASE(readyz_turns_503_while_the_database_is_down_and_recovers) {
    Site site;  // no spool: with the database away, a delivery gets a 503
    auto& pg = site.pg;
    int port = site.port;
    auto post_here = [&](const std::string& body) { return site.post("/", body); };

    BOOST_TEST_REQUIRE(HttpClient(port).request("GET", "/readyz").status == 200u);
    pg.stop();

    unsigned status = 0;
    HttpResponse r;
    for (int i = 0; i < 100 && status != 503; ++i) {
        std::this_thread::sleep_for(100ms);
        r = HttpClient(port).request("GET", "/readyz");
        status = r.status;
    }
    BOOST_TEST_REQUIRE(status == 503u);
    BOOST_TEST(json_of(r).at("reason").as_string() == "database_unavailable", r.body);

    auto refused = post_here(unique_body("while down"));
    BOOST_TEST(refused.status == 503u, refused.body);
    BOOST_TEST(json_of(refused).at("reason").as_string() == "database_unavailable", refused.body);
    BOOST_TEST(refused.body.find("127.0.0.1") == std::string::npos, refused.body);  // libpq's text stays in the log
    BOOST_TEST(refused.header("retry-after") != "");

    pg.start();
    for (int i = 0; i < 100 && status != 200; ++i) {
        std::this_thread::sleep_for(100ms);
        status = HttpClient(port).request("GET", "/readyz").status;
    }
    BOOST_TEST(status == 200u);
    unsigned stored = 0;
    for (int i = 0; i < 100 && stored != 202; ++i) {
        stored = post_here(unique_body("after recovery")).status;
        if (stored != 202) std::this_thread::sleep_for(100ms);
    }
    BOOST_TEST(stored == 202u);
    int exit_status = site.daemon->terminate();
    BOOST_TEST(exit_status == 0, site.daemon->log());
}

BOOST_AUTO_TEST_SUITE_END()
