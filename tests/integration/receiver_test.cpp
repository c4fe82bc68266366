// The real daemon against a real PostgreSQL over real loopback sockets.
#include "world.hpp"

#include <sstream>
#include <fstream>
#include <csignal>
#include <atomic>

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <pqxx/binarystring>
#include <pqxx/connection>
#include <pqxx/nontransaction>

#include <cstring>
#include <mutex>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <set>
#include <thread>

using namespace esr::test;
using namespace std::chrono_literals;

namespace {

long long count_deliveries() { return count_rows("eventsshop.deliveries"); }

}  // namespace

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

BOOST_AUTO_TEST_CASE(basic_auth_delivery_is_stored_byte_for_byte) {
    const std::string body = fixture("eventsinfo-object.json");
    auto r = post("/", body, basic_auth(basic_user, basic_password));
    BOOST_TEST_REQUIRE(r.status == 202u, r.body);
    auto j = json_of(r);
    auto id = j.at("delivery_id").as_int64();
    BOOST_TEST(j.at("duplicate").as_bool() == false);

    auto c = db();
    pqxx::nontransaction tx(c);
    auto row = tx.exec_params1(
        "SELECT body, encode(body_sha256, 'hex'), byte_size, host(remote_addr), principal, kind "
        "FROM eventsshop.deliveries WHERE id = $1", id);
    BOOST_TEST(pqxx::binarystring(row[0]).str() == body);
    BOOST_TEST(row[1].as<std::string>() == sha256_hex(body));
    BOOST_TEST(row[2].as<std::size_t>() == body.size());
    BOOST_TEST(row[3].as<std::string>() == "127.0.0.1");
    BOOST_TEST(row[4].as<std::string>() == "basic:" + basic_user);
}

BOOST_AUTO_TEST_CASE(bearer_delivery_to_a_kind_path_is_stored_with_that_kind) {
    const std::string body = fixture("hoteldemand-hotel.json");
    auto r = post("/hoteldemand", body, bearer_new);
    BOOST_TEST_REQUIRE(r.status == 202u, r.body);
    auto j = json_of(r);
    BOOST_TEST(j.at("kind").as_string() == "hoteldemand");

    auto c = db();
    pqxx::nontransaction tx(c);
    auto row = tx.exec_params1("SELECT body, principal, kind FROM eventsshop.deliveries WHERE id = $1",
                               j.at("delivery_id").as_int64());
    BOOST_TEST(pqxx::binarystring(row[0]).str() == body);
    BOOST_TEST(row[1].as<std::string>() == "bearer:2");
    BOOST_TEST(row[2].as<std::string>() == "hoteldemand");
}

BOOST_AUTO_TEST_CASE(awkward_bytes_are_kept_exactly) {
    // \u0000 as an escape, a raw NUL-free invalid UTF-8 sequence, duplicate keys: all kept as sent.
    const std::string body = "{\"a\":\"\\u0000\",\"b\":\"\xff\xfe\",\"a\":2,\"n\":" + std::to_string(std::rand()) + "}";
    auto r = post("/", body, bearer_new);
    BOOST_TEST_REQUIRE(r.status == 202u, r.body);
    auto c = db();
    pqxx::nontransaction tx(c);
    auto row = tx.exec_params1("SELECT body FROM eventsshop.deliveries WHERE id = $1",
                               json_of(r).at("delivery_id").as_int64());
    BOOST_TEST(pqxx::binarystring(row[0]).str() == body);
}

BOOST_AUTO_TEST_CASE(the_same_body_twice_is_stored_once) {
    const std::string body = unique_body("duplicate");
    auto first = post("/", body, bearer_new);
    auto second = post("/", body, basic_auth(basic_user, basic_password));
    BOOST_TEST_REQUIRE(first.status == 202u, first.body);
    BOOST_TEST_REQUIRE(second.status / 100 == 2u, second.body);
    BOOST_TEST(json_of(second).at("duplicate").as_bool() == true);
    BOOST_TEST(json_of(second).at("delivery_id").as_int64() == json_of(first).at("delivery_id").as_int64());
    auto c = db();
    pqxx::nontransaction tx(c);
    BOOST_TEST(tx.exec_params1("SELECT count(*) FROM eventsshop.deliveries WHERE body_sha256 = decode($1, 'hex')",
                               sha256_hex(body))[0].as<int>() == 1);
}

BOOST_AUTO_TEST_CASE(missing_or_wrong_credentials_get_401_and_nothing_is_stored) {
    auto before = count_deliveries();
    for (std::string auth : {std::string(), basic_auth(basic_user, "wrong"), std::string("Bearer old-token"),
                             std::string("Bearer ") + token_old + "x", std::string("Basic !!!")}) {
        BOOST_TEST_CONTEXT("Authorization: " << auth) {
            HttpClient client(world().port);
            std::map<std::string, std::string> headers;
            if (!auth.empty()) headers["Authorization"] = auth;
            auto r = client.request("POST", "/", unique_body("unauthorized"), headers);
            BOOST_TEST(r.status == 401u);
            BOOST_TEST(r.header("www-authenticate").find("Basic") != std::string::npos);
            BOOST_TEST(r.header("www-authenticate").find("Bearer") != std::string::npos);
            BOOST_TEST(json_of(r).at("error").as_string() == "unauthorized");
            BOOST_TEST(client.closed_by_server());
        }
    }
    BOOST_TEST(count_deliveries() == before);
}

BOOST_AUTO_TEST_CASE(old_and_new_bearer_tokens_both_work) {
    BOOST_TEST(post("/", unique_body("old token"), "Bearer " + token_old).status == 202u);
    BOOST_TEST(post("/", unique_body("new token"), "bearer " + token_new).status == 202u);
}

BOOST_AUTO_TEST_CASE(malformed_json_is_400_saying_where_and_nothing_is_stored) {
    auto before = count_deliveries();
    auto r = post("/", fixture("malformed-truncated.json"), bearer_new);
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(json_of(r).at("error").as_string() == "invalid_json");
    BOOST_TEST(std::string(json_of(r).at("detail").as_string()).find("at byte") != std::string::npos, r.body);
    BOOST_TEST(count_deliveries() == before);
}

BOOST_AUTO_TEST_CASE(unknown_path_is_404_and_wrong_method_is_405) {
    HttpClient client(world().port);
    auto r = client.request("GET", "/no/such/path");
    BOOST_TEST(r.status == 404u);
    BOOST_TEST(json_of(r).at("error").as_string() == "not_found");
    auto m = client.request("GET", "/eventsinfo", "", {{"Authorization", bearer_new}});
    BOOST_TEST(m.status == 405u);
    BOOST_TEST(m.header("allow") == "POST");
    BOOST_TEST(json_of(m).at("error").as_string() == "method_not_allowed");
}

BOOST_AUTO_TEST_CASE(body_over_the_limit_is_413) {
    std::string big = "[" + std::string(max_body, ' ') + "]";
    auto r = post("/", big, bearer_new);
    BOOST_TEST(r.status == 413u);
    BOOST_TEST(json_of(r).at("error").as_string() == "body_too_large");

    // Chunked, so the size is not known up front: cut off once it passes the limit.
    RawConnection raw(world().port);
    raw.send("POST / HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer_new + "\r\nTransfer-Encoding: chunked\r\n\r\n");
    std::string chunk(16 << 10, ' ');
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
    for (int i = 0; i < 8; ++i) raw.send(size + chunk + "\r\n");
    std::string answer = raw.receive_until_close(5s);
    BOOST_TEST(answer.rfind("HTTP/1.1 413", 0) == 0u, answer);
}

BOOST_AUTO_TEST_CASE(half_a_header_then_silence_is_disconnected) {
    RawConnection raw(world().port);
    auto start = std::chrono::steady_clock::now();
    raw.send("POST / HTTP/1.1\r\nHost: x\r\nAuthoriz");
    raw.receive_until_close(10s);
    auto waited = std::chrono::steady_clock::now() - start;
    BOOST_TEST(raw.saw_close());
    BOOST_TEST((waited < 5s));  // header timeout is 1s here; 5s is only a bound against hanging
}

BOOST_AUTO_TEST_CASE(several_requests_on_one_keep_alive_connection) {
    HttpClient client(world().port);
    BOOST_TEST(client.request("GET", "/healthz").status == 200u);
    for (int i = 0; i < 3; ++i) {
        auto r = client.request("POST", "/eventsinfo", unique_body("keep-alive"), {{"Authorization", bearer_new}});
        BOOST_TEST(r.status == 202u, r.body);
    }
    BOOST_TEST(client.request("GET", "/readyz").status == 200u);
    BOOST_TEST(!client.closed_by_server(100ms));
}

BOOST_AUTO_TEST_CASE(expect_100_continue_is_honoured_only_after_authentication) {
    std::string body = unique_body("expect");
    RawConnection ok(world().port);
    ok.send("POST / HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer_new + "\r\nExpect: 100-continue\r\n"
            "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n");
    std::string interim = ok.receive_until("\r\n\r\n", 5s);
    BOOST_TEST(interim.rfind("HTTP/1.1 100 Continue", 0) == 0u, interim);
    ok.send(body);
    BOOST_TEST(ok.receive_until("}", 5s).find("HTTP/1.1 202") != std::string::npos);

    RawConnection denied(world().port);
    denied.send("POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\nExpect: 100-continue\r\n"
                "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n");
    std::string answer = denied.receive_until_close(5s);
    BOOST_TEST(answer.rfind("HTTP/1.1 401", 0) == 0u, answer);
    BOOST_TEST(denied.saw_close());
}

BOOST_AUTO_TEST_CASE(a_connection_cut_mid_body_stores_nothing) {
    auto before = count_deliveries();
    {
        RawConnection raw(world().port);
        raw.send("POST / HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer_new + "\r\nContent-Length: 100\r\n\r\n{\"a\":");
    }
    std::this_thread::sleep_for(300ms);
    BOOST_TEST(count_deliveries() == before);
    BOOST_TEST(HttpClient(world().port).request("GET", "/healthz").status == 200u);
}

// Many senders at once, so the writers commit batches: repeated bodies (also within one batch)
// are stored once, and an event named by many deliveries ends as the latest of them says.
BOOST_AUTO_TEST_CASE(concurrent_senders_are_group_committed_without_duplicates) {
    constexpr int senders = 8, each = 40;
    std::vector<std::thread> threads;
    std::mutex mutex;
    std::map<std::string, std::set<std::int64_t>> ids_by_body;
    std::vector<unsigned> statuses;
    for (int t = 0; t < senders; ++t) {
        threads.emplace_back([&, t] {
            HttpClient client(world().port);
            for (int i = 0; i < each; ++i) {
                // Every 4th body is the same for all senders; the rest are unique.
                std::string body = i % 4 == 0
                    ? R"({"eventId": 5000, "eventName": "Shared )" + std::to_string(i) + R"(", "venue": "Arena"})"
                    : R"({"eventId": )" + std::to_string(6000 + t * 100 + i) + R"(, "eventName": "Solo", "city": "Turin"})";
                auto r = client.request("POST", "/", body, {{"Authorization", bearer_new}});
                std::lock_guard lock(mutex);
                statuses.push_back(r.status);
                if (r.status / 100 == 2) ids_by_body[body].insert(json_of(r).at("delivery_id").as_int64());
            }
        });
    }
    for (auto& t : threads) t.join();
    for (unsigned s : statuses) BOOST_TEST(s / 100 == 2u);
    BOOST_TEST(ids_by_body.size() == std::size_t(senders * each * 3 / 4 + each / 4));
    for (const auto& [body, ids] : ids_by_body) BOOST_TEST(ids.size() == 1u, body);

    auto c = db();
    pqxx::nontransaction tx(c);
    BOOST_TEST(tx.exec1("SELECT count(*) FROM eventsshop.events WHERE event_id BETWEEN 6000 AND 6999")[0].as<int>() ==
               senders * each * 3 / 4);
    // The shared event: the values of the delivery with the highest id that named it.
    auto shared = tx.exec1("SELECT e.name, e.venue, e.last_delivery_id = (SELECT max(id) FROM eventsshop.deliveries d "
                           " WHERE position(convert_to('\"eventId\": 5000,', 'UTF8') in d.body) > 0), "
                           " e.name = (SELECT convert_from(d.body, 'UTF8')::json->>'eventName' FROM eventsshop.deliveries d "
                           " WHERE d.id = e.last_delivery_id) FROM eventsshop.events e WHERE e.event_id = 5000");
    BOOST_TEST(shared[1].as<std::string>() == "Arena");
    BOOST_TEST(shared[2].as<bool>());
    BOOST_TEST(shared[3].as<bool>());
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

BOOST_AUTO_TEST_CASE(x_forwarded_for_is_believed_only_from_trusted_proxies) {
    auto stored_addr = [](pqxx::connection& c, std::int64_t id) {
        pqxx::nontransaction tx(c);
        return tx.exec_params1("SELECT host(remote_addr) FROM eventsshop.deliveries WHERE id = $1", id)[0].as<std::string>();
    };
    // The shared daemon trusts no proxy: the header is ignored.
    auto ignored = HttpClient(world().port).request("POST", "/", unique_body("xff ignored"),
                                                   {{"Authorization", bearer_new}, {"X-Forwarded-For", "203.0.113.9"}});
    BOOST_TEST_REQUIRE(ignored.status == 202u);
    auto c = db();
    BOOST_TEST(stored_addr(c, json_of(ignored).at("delivery_id").as_int64()) == "127.0.0.1");
    // Issue 13: and said, so an operator whose proxy is missing from --trusted-proxies learns it.
    BOOST_TEST(world().daemon->log().find("X-Forwarded-For ignored from a peer not in --trusted-proxies") !=
               std::string::npos);

    Site site({"--trusted-proxies", "127.0.0.0/8"});
    auto believed = HttpClient(site.port).request("POST", "/", unique_body("xff believed"),
                                                 {{"Authorization", bearer_new},
                                                  {"X-Forwarded-For", "198.51.100.7, 203.0.113.9"}});
    BOOST_TEST_REQUIRE(believed.status == 202u);
    pqxx::connection sc(site.pg.url());
    BOOST_TEST(stored_addr(sc, json_of(believed).at("delivery_id").as_int64()) == "203.0.113.9");
    BOOST_TEST(site.daemon->log().find("\"remote_addr\":\"203.0.113.9\"") != std::string::npos);
}

// Issue 13 (RFC 9110 5.3): several X-Forwarded-For field lines are one list. Only the first line
// was read, so behind a proxy that appends its own line the client chose its address.
BOOST_AUTO_TEST_CASE(every_x_forwarded_for_line_is_read) {
    Site site({"--trusted-proxies", "127.0.0.0/8"});
    const std::string body = unique_body("xff lines");
    RawConnection raw(site.port);
    raw.send("POST / HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer_new +
             "\r\nX-Forwarded-For: 198.51.100.66\r\nX-Forwarded-For: 203.0.113.5\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    const std::string answer = raw.receive_until_close(std::chrono::seconds(10));
    BOOST_TEST_REQUIRE(answer.find("HTTP/1.1 202") == 0u, answer);
    pqxx::connection c(site.pg.url());
    pqxx::nontransaction tx(c);
    BOOST_TEST(tx.exec1("SELECT host(remote_addr) FROM eventsshop.deliveries ORDER BY id DESC LIMIT 1")[0].as<std::string>() ==
               "203.0.113.5");
}

BOOST_AUTO_TEST_CASE(metrics_on_their_own_address_behind_a_token) {
    auto env = world().env;
    env["ESR_METRICS_TOKEN"] = "scrape-token";
    int port = free_port(), metrics_port = free_port();
    auto daemon = start_daemon(port, env, world().dir.path, {"--metrics-listen", "127.0.0.1:" + std::to_string(metrics_port)});
    BOOST_TEST(HttpClient(metrics_port).request("GET", "/metrics").status == 401u);
    auto scraped = HttpClient(metrics_port).request("GET", "/metrics", "", {{"Authorization", "Bearer scrape-token"}});
    BOOST_TEST(scraped.status == 200u);
    BOOST_TEST(scraped.body.find("eventsshop_database_up 1") != std::string::npos);
    BOOST_TEST(HttpClient(port).request("GET", "/metrics").status == 404u);
    BOOST_TEST(HttpClient(metrics_port).request("POST", "/", unique_body("wrong door"), {{"Authorization", bearer_new}})
                   .status == 404u);
    // Issue 13: the probes move with it; the public port has none of the three.
    BOOST_TEST(HttpClient(metrics_port).request("GET", "/readyz").status == 200u);
    BOOST_TEST(HttpClient(metrics_port).request("GET", "/healthz").status == 200u);
    BOOST_TEST(HttpClient(port).request("GET", "/readyz").status == 404u);
    BOOST_TEST(HttpClient(port).request("GET", "/healthz").status == 404u);
    BOOST_TEST(daemon->terminate() == 0);
}

BOOST_AUTO_TEST_CASE(failed_authentication_is_throttled_per_address) {
    Site site({"--auth-failure-limit", "3", "--auth-failure-window", "2s"});
    auto attempt = [&](const std::string& authorization) {
        return HttpClient(site.port).request("POST", "/", unique_body("guess"), {{"Authorization", authorization}});
    };
    for (int i = 0; i < 3; ++i) BOOST_TEST(attempt("Bearer guess-" + std::to_string(i)).status == 401u);
    auto blocked = attempt("Bearer guess-4");
    BOOST_TEST(blocked.status == 429u);
    BOOST_TEST(!blocked.header("retry-after").empty());
    BOOST_TEST(json_of(blocked).at("error").as_string() == "too_many_failures");
    // Issue 13: the right credentials are never throttled (else anyone failing from EventsShop's
    // address, or the proxy's, locks it out); only the failures wait out the window.
    BOOST_TEST(attempt(bearer_new).status == 202u);
    BOOST_TEST(attempt("Bearer guess-5").status == 429u);
    std::this_thread::sleep_for(2100ms);
    BOOST_TEST(attempt("Bearer guess-6").status == 401u);
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
