// The real daemon against a real PostgreSQL over real loopback sockets: deliveries, credentials,
// limits, proxies. receiver_operations_test.cpp has the commands, signals and readiness.
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

namespace {

long long count_deliveries() { return count_rows("eventsshop.deliveries"); }

}  // namespace

BOOST_AUTO_TEST_SUITE(receiver)


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

BOOST_AUTO_TEST_SUITE_END()
