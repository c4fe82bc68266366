// Hostile and broken requests over a real socket: each gets a clear answer, nothing is stored
// that should not be, and the daemon keeps serving. docs/bad-input.md lists them.
#include "world.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <pqxx/nontransaction>
#include <pqxx/result>

#include <random>
#include <thread>

using namespace esr::test;
using namespace std::chrono_literals;

namespace {

std::string auth_line() { return "Authorization: " + bearer_new + "\r\n"; }

void still_serving() { BOOST_TEST(HttpClient(world().port).request("GET", "/healthz").status == 200u); }

}  // namespace

BOOST_AUTO_TEST_SUITE(bad_input)

// Issue 16: memory follows the bytes received, never the bytes declared. Beast's string body
// reserved each declared Content-Length at once: four connections declaring 256 MiB and sending a
// byte each took 1 GiB of the daemon's address space.
BOOST_AUTO_TEST_CASE(a_declared_length_reserves_nothing_until_it_arrives) {
    Site site({"--max-body-bytes", "268435456"});
    auto virtual_bytes = [&] {
        auto text = site.get("/metrics").body;
        auto at = text.find("\nprocess_virtual_memory_bytes ");
        BOOST_TEST_REQUIRE(at != std::string::npos);
        return std::stod(text.substr(at + 30));
    };
    const double before = virtual_bytes();
    std::vector<std::unique_ptr<RawConnection>> senders;
    for (int i = 0; i < 4; ++i) {
        senders.push_back(std::make_unique<RawConnection>(site.port));
        senders.back()->send("POST / HTTP/1.1\r\nHost: x\r\n" + auth_line() + "Content-Length: 268435456\r\n\r\n{");
    }
    std::this_thread::sleep_for(500ms);
    const double grown = virtual_bytes() - before;
    BOOST_TEST(grown < 256.0 * (1 << 20), "the address space grew by " << grown / (1 << 20) << " MiB");
}

// Issue 16: chunk extensions were buffered without a bound until the body timeout; they count as
// header bytes now, and a chunk header over the header limit is refused at once.
BOOST_AUTO_TEST_CASE(endless_chunk_extensions_are_refused) {
    Site site({"--body-timeout", "60s", "--min-body-rate", "0"});
    RawConnection raw(site.port);
    raw.send("POST / HTTP/1.1\r\nHost: x\r\n" + auth_line() + "Transfer-Encoding: chunked\r\n\r\n5;ext=");
    for (int i = 0; i < 16; ++i) raw.send(std::string(64 << 10, 'a'));
    auto answer = raw.receive_until_close(5s);
    BOOST_TEST(answer.find("HTTP/1.1 400") == 0u, answer.substr(0, 200));
    BOOST_TEST(answer.find("chunk_header_too_large") != std::string::npos, answer.substr(0, 300));
}

BOOST_AUTO_TEST_CASE(a_header_over_the_limit_is_431) {
    RawConnection raw(world().port);
    raw.send("POST / HTTP/1.1\r\nHost: x\r\n" + auth_line() + "X-Pad: " + std::string(20000, 'a') +
             "\r\nContent-Length: 2\r\n\r\n{}");
    auto answer = raw.receive_until_close(5s);
    BOOST_TEST(answer.rfind("HTTP/1.1 431", 0) == 0u, answer.substr(0, 200));
    still_serving();
}

BOOST_AUTO_TEST_CASE(content_length_with_transfer_encoding_is_refused) {
    auto before = count_rows("eventsshop.deliveries");
    RawConnection raw(world().port);
    // A request smuggling shape: which length wins depends on who reads it. Neither, here.
    raw.send("POST / HTTP/1.1\r\nHost: x\r\n" + auth_line() +
             "Content-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
    auto answer = raw.receive_until_close(5s);
    BOOST_TEST(answer.rfind("HTTP/1.1 400", 0) == 0u, answer.substr(0, 200));
    BOOST_TEST(raw.saw_close());
    BOOST_TEST(count_rows("eventsshop.deliveries") == before);
    still_serving();
}

BOOST_AUTO_TEST_CASE(bytes_past_content_length_are_read_as_the_next_request) {
    RawConnection raw(world().port);
    std::string body = unique_body("exact length");
    raw.send("POST / HTTP/1.1\r\nHost: x\r\n" + auth_line() + "Content-Length: " + std::to_string(body.size()) +
             "\r\n\r\n" + body + "GARBAGE / HTTP/9\r\n\r\n");
    auto answer = raw.receive_until_close(5s);
    BOOST_TEST(answer.rfind("HTTP/1.1 202", 0) == 0u, answer.substr(0, 200));  // the body as declared
    BOOST_TEST(answer.find("HTTP/1.1 400") != std::string::npos, answer);      // then the garbage
    BOOST_TEST(raw.saw_close());
}

BOOST_AUTO_TEST_CASE(a_body_slower_than_the_body_timeout_is_cut_and_not_stored) {
    auto before = count_rows("eventsshop.deliveries");
    RawConnection raw(world().port);
    auto start = std::chrono::steady_clock::now();
    raw.send("POST / HTTP/1.1\r\nHost: x\r\n" + auth_line() + "Content-Length: 100\r\n\r\n{\"eventId\":");
    auto answer = raw.receive_until_close(15s);
    BOOST_TEST(answer.rfind("HTTP/1.1 408", 0) == 0u, answer.substr(0, 300));
    BOOST_TEST(raw.saw_close());
    BOOST_TEST((std::chrono::steady_clock::now() - start < 10s));  // body timeout is 3s here
    BOOST_TEST(count_rows("eventsshop.deliveries") == before);
    still_serving();
}

namespace {

/// Sends `body` in pieces of `piece` bytes, one piece per `pause`, until it is all sent or the
/// daemon answers; returns the answer.
std::string trickle(RawConnection& raw, const std::string& body, std::size_t piece, std::chrono::milliseconds pause) {
    raw.send("POST / HTTP/1.1\r\nHost: x\r\n" + auth_line() + "Content-Length: " + std::to_string(body.size()) +
             "\r\n\r\n");
    for (std::size_t at = 0; at < body.size(); at += piece) {
        raw.send(body.substr(at, piece));
        // The pause between pieces doubles as the wait for an early answer.
        auto early = raw.receive_until("\r\n\r\n", pause);
        if (!early.empty()) return early + raw.receive_until_close(2s);
    }
    return raw.receive_until_close(5s);
}

// A daemon of this suite's own on the shared database: a low floor after a short grace, and a body
// timeout long enough that only the floor can cut the trickle.
struct RateFloorDaemon {
    int port = free_port();
    std::unique_ptr<Daemon> daemon =
        start_daemon(port, world().env, world().dir.path,
                     {"--min-body-rate", "400", "--body-rate-grace", "1s", "--body-timeout", "30s"});
};

std::string padded_body(const std::string& tag, std::size_t size) {
    std::string body = unique_body(tag);
    body.insert(body.size() - 1, std::string(size - body.size(), ' '));  // whitespace inside the object
    return body;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_body_slower_than_the_minimum_rate_is_cut_early_with_408) {
    RateFloorDaemon site;
    auto before = count_rows("eventsshop.deliveries");
    RawConnection raw(site.port);
    auto start = std::chrono::steady_clock::now();
    // 10 bytes every 200 ms is 50 bytes a second, an eighth of the floor.
    auto answer = trickle(raw, padded_body("trickled", 2000), 10, 200ms);
    auto took = std::chrono::steady_clock::now() - start;
    BOOST_TEST(answer.rfind("HTTP/1.1 408", 0) == 0u, answer.substr(0, 300));
    BOOST_TEST(answer.find("body_too_slow") != std::string::npos, answer);
    BOOST_TEST(raw.saw_close());
    BOOST_TEST((took < 5s));  // cut after about 1.2 s, far inside the 30 s body timeout
    BOOST_TEST(count_rows("eventsshop.deliveries") == before);
}

BOOST_AUTO_TEST_CASE(a_slow_body_above_the_minimum_rate_is_accepted) {
    RateFloorDaemon site;
    RawConnection raw(site.port);
    // 100 bytes every 100 ms is 1,000 bytes a second: slow, past the grace, yet above the floor.
    auto answer = trickle(raw, padded_body("slow but steady", 2000), 100, 100ms);
    BOOST_TEST(answer.rfind("HTTP/1.1 202", 0) == 0u, answer.substr(0, 300));
}

BOOST_AUTO_TEST_CASE(json_nested_too_deep_is_400_not_a_crash) {
    std::string deep = std::string(30000, '[') + std::string(30000, ']');
    auto r = post("/", deep);
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(json_of(r).at("error").as_string() == "invalid_json");
    still_serving();
}

BOOST_AUTO_TEST_CASE(a_bare_number_or_string_is_valid_json_kept_unclassified) {
    for (const std::string& body : std::vector<std::string>{"4242424242", "\"just a string " + std::to_string(std::rand()) + "\""}) {
        auto r = post("/", body);
        BOOST_TEST(r.status / 100 == 2u, r.body);
        BOOST_TEST(json_of(r).at("kind").as_string() == "unclassified");
    }
}

BOOST_AUTO_TEST_CASE(numbers_beyond_64_bits_and_duplicate_keys_are_kept_as_sent) {
    std::string body = R"({"eventId": 123456789012345678901234567890, "eventId": 55, "n": 1e400, "x": )" +
                       std::to_string(std::rand()) + "}";
    auto r = post("/", body);
    BOOST_TEST_REQUIRE(r.status == 202u, r.body);
    const auto id = json_of(r).at("delivery_id").as_int64();
    auto c = db();
    pqxx::nontransaction tx(c);
    BOOST_TEST(tx.exec_params1("SELECT convert_from(body, 'UTF8') FROM eventsshop.deliveries WHERE id = $1", id)[0]
                   .as<std::string>() == body);
    // The typed row takes the last of the repeated keys.
    BOOST_TEST(tx.exec_params1("SELECT count(*) FROM eventsshop.events WHERE event_id = 55 AND last_delivery_id = $1",
                               id)[0].as<int>() == 1);
}

// A btree entry holds about 2.7 KB: a longer value in an indexed text column (events.city,
// hotel_demand.hotel_code, hotel_demand_latest's key and city) would fail the statement, and the
// delivery would keep its body but no typed row. The row is written without the value, which is
// kept under extra._uncoerced, as a number too large for its column is.
BOOST_AUTO_TEST_CASE(text_too_long_for_an_index_is_kept_in_extra_and_the_rows_are_written) {
    std::mt19937 random(static_cast<unsigned>(std::rand()));
    auto incompressible = [&](std::size_t n) {
        std::string s;
        for (std::size_t i = 0; i < n; ++i) s += static_cast<char>('a' + random() % 26);
        return s;
    };
    const std::string city = incompressible(3000), hotel = incompressible(3000);
    const long long event = 770000000 + std::rand() % 1000000;
    auto r = post("/eventsinfo", R"({"eventId": )" + std::to_string(event) + R"(, "eventName": "Long city", "city": ")" +
                                     city + R"("})");
    BOOST_TEST_REQUIRE(r.status == 202u, r.body);
    r = post("/hoteldemand", R"([{"hotelCode": ")" + hotel + R"(", "city": ")" + city +
                                 R"(", "date": "2026-01-01", "absoluteDemand": 5}])");
    BOOST_TEST_REQUIRE(r.status == 202u, r.body);
    const auto demand = json_of(r).at("delivery_id").as_int64();
    auto c = db();
    pqxx::nontransaction tx(c);
    auto e = tx.exec_params("SELECT name, city IS NULL, extra->'_uncoerced'->>'city' FROM eventsshop.events "
                            "WHERE event_id = $1", event);
    BOOST_TEST_REQUIRE(e.size() == 1u);
    BOOST_TEST(e[0][0].as<std::string>() == "Long city");
    BOOST_TEST(e[0][1].as<bool>());
    BOOST_TEST(e[0][2].as<std::string>() == city);
    auto d = tx.exec_params("SELECT hotel_code IS NULL, city IS NULL, extra->'_uncoerced'->>'hotelCode', "
                            "extra->'_uncoerced'->>'city', absolute_demand FROM eventsshop.hotel_demand "
                            "WHERE delivery_id = $1", demand);
    BOOST_TEST_REQUIRE(d.size() == 1u);
    BOOST_TEST(d[0][0].as<bool>());
    BOOST_TEST(d[0][1].as<bool>());
    BOOST_TEST(d[0][2].as<std::string>() == hotel);
    BOOST_TEST(d[0][3].as<std::string>() == city);
    BOOST_TEST(d[0][4].as<int>() == 5);
}

BOOST_AUTO_TEST_CASE(garbled_requests_get_400_and_the_daemon_goes_on) {
    const std::string tls_hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS to a plain port\r\n\r\n", 36);
    for (const std::string& garbage : std::vector<std::string>{tls_hello, "GET\r\n\r\n", "POST / HTTP/1.1\r\nHost x\r\n\r\n",
                                                                std::string(100, '\0')}) {
        RawConnection raw(world().port);
        raw.send(garbage);
        auto answer = raw.receive_until_close(5s);
        BOOST_TEST((answer.empty() || answer.rfind("HTTP/1.1 400", 0) == 0u), answer.substr(0, 100));
    }
    still_serving();
}

BOOST_AUTO_TEST_CASE(one_address_cannot_take_every_connection) {
    // A long header timeout: the idle connections below must outlive a slow machine's scheduling.
    Site site({"--max-connections-per-address", "3", "--header-timeout", "30s"});
    HttpClient scraper(site.port);
    auto open_connections_are = [&](int n) {
        const std::string line = "\neventsshop_connections_open " + std::to_string(n) + "\n";
        for (int i = 0; i < 100; ++i) {
            if (scraper.request("GET", "/metrics").body.find(line) != std::string::npos) return true;
            std::this_thread::sleep_for(50ms);
        }
        return false;
    };
    // The start-up health checks' connections may take a moment to be seen closed; they count too.
    BOOST_TEST_REQUIRE(open_connections_are(1));
    {
        RawConnection first(site.port), second(site.port);
        BOOST_TEST_REQUIRE(open_connections_are(3));  // accepted, so the fourth cannot race them
        RawConnection fourth(site.port);
        auto answer = fourth.receive_until_close(5s);
        BOOST_TEST(answer.rfind("HTTP/1.1 503", 0) == 0u, answer);
        BOOST_TEST(answer.find("too_many_connections") != std::string::npos, answer);
    }
    // Closed: room again.
    unsigned status = 0;
    for (int i = 0; i < 50 && status != 200; ++i) {
        try {
            status = HttpClient(site.port).request("GET", "/healthz").status;
        } catch (const std::exception&) {
        }
        if (status != 200) std::this_thread::sleep_for(100ms);
    }
    BOOST_TEST(status == 200u);
}

BOOST_AUTO_TEST_SUITE_END()
