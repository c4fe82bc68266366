// A 2xx means durable (continued from acknowledged_test.cpp): the spool's drain, reprocess, and
// sessions that commit and fail as production ones do. Each test runs against its own PostgreSQL
// and daemon, with every wait bounded.
#include "acknowledged_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

using namespace esr::test;
using namespace esr::test::acknowledged_support;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(acknowledged)


// 10. A spool written by an older daemon may hold a body refused on drain (it spooled large bodies
// unparsed). It is to be quarantined whole, once, and the drain goes on.
BOOST_AUTO_TEST_CASE(a_spooled_body_refused_on_drain_is_quarantined_once) {
    AckSite site({"--large-body-bytes", "4096"}, true);
    BOOST_TEST_REQUIRE(site.daemon->terminate() == 0);
    const std::string body = events_array(64'000'000, 13'000, "Quarantined").substr(0, 2'000'000);  // not JSON
    const std::string good = R"({"eventId": 64999999, "eventName": "Spooled after the refused one"})";
    {
        std::filesystem::create_directories(site.state() / "spool");
        std::ofstream out(site.state() / "spool" / "spool.log", std::ios::binary | std::ios::trunc);
        out << spool_record("/", body) << spool_record("/", good);
        BOOST_TEST_REQUIRE(out.good());
    }
    site.start();
    BOOST_TEST(site.wait_drained(30s), "spool records after 30 s: " << site.spooled().value_or(999));
    std::this_thread::sleep_for(2s);  // would a looping drain insert it again?
    BOOST_TEST(site.rejected(body) <= 1);
    BOOST_TEST(site.stored(good) == 1);

    std::vector<std::filesystem::path> kept;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(site.state() / "quarantine", ec))
        if (e.path().extension() == ".body") kept.push_back(e.path());
    BOOST_TEST(kept.size() == 1u, "*.body files in <state-dir>/quarantine: " << kept.size()
                                                                               << (ec ? " (" + ec.message() + ")" : ""));
    if (kept.size() == 1) BOOST_TEST((read_file(kept[0]) == body), "the quarantined file is not the body, byte for byte");

    bool logged = false;
    std::istringstream log(site.daemon->log());
    for (std::string line; std::getline(log, line);)
        logged |= line.find(R"("level":"error")") != std::string::npos && line.find("quarantin") != std::string::npos;
    BOOST_TEST(logged, "no error line mentioning quarantine in the daemon's log");
}

// 11. reprocess runs a page of deliveries in one transaction: one failure stops it and undoes the page.
BOOST_AUTO_TEST_CASE(reprocess_goes_past_a_poison_delivery) {
    AckSite site({"--max-body-bytes", "67108864", "--body-timeout", "20s"}, false);
    site.sql("ALTER TABLE eventsshop.deliveries ALTER COLUMN id RESTART WITH 700001");  // ids no counter matches
    const std::vector<std::string> names{"Good 1", "Good 2", "BAD", "Good 3", "Good 4"};
    std::string bad_id;
    for (std::size_t i = 0; i < names.size(); ++i) {
        auto r = site.post("/", R"({"eventId": )" + std::to_string(65'000'001 + i) + R"(, "eventName": ")" +
                                    names[i] + R"("})");
        BOOST_TEST_REQUIRE(r.status == 202u, describe(r));
        if (names[i] == "BAD") bad_id = std::to_string(json_of(r).at("delivery_id").to_number<long long>());
    }
    site.raise_on_insert("esr_bad_event", "events", "name", "BAD", "BAD event");
    site.sql("DELETE FROM eventsshop.events WHERE event_id BETWEEN 65000001 AND 65000005");
    std::string out;
    int status = run({ESR_DAEMON_PATH, "reprocess"}, site.env, &out);
    BOOST_TEST_MESSAGE("reprocess exited " << status << ":\n" << out);
    BOOST_TEST(out.find(bad_id) != std::string::npos, "the output does not name delivery " << bad_id << ":\n" << out);
    auto rebuilt = site.sql("SELECT count(*) FROM eventsshop.events WHERE event_id IN (65000001, 65000002, "
                            "65000004, 65000005)")[0][0]
                       .as<long long>();
    BOOST_TEST(rebuilt == 4, "good deliveries' events rebuilt: " << rebuilt << " of 4 (exit status " << status
                                                                  << ")");

    // Memory: a page of city matrices must not be held at once.
    site.sql("DROP TRIGGER esr_bad_event ON eventsshop.events");
    std::size_t largest = 0;
    for (int i = 0; i < 4; ++i) {
        const std::string matrix = demand_matrix(300, 280, 650001 + i);  // about 10 MB
        largest = std::max(largest, matrix.size());
        auto r = site.post("/hoteldemand", matrix);
        BOOST_TEST_REQUIRE(r.status == 202u, describe(r));
    }
    long peak_kib = 0;
    status = run_measured({ESR_DAEMON_PATH, "reprocess"}, site.env, &out, &peak_kib);
    BOOST_TEST_REQUIRE(status == 0, out);
    const long limit_kib = static_cast<long>((2 * largest + (30u << 20)) / 1024);
    BOOST_TEST_MESSAGE("reprocess peak RSS " << peak_kib << " KiB; largest body " << largest / 1024 << " KiB");
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // Sanitizers keep freed memory in quarantine and shadow all of it: the figure says nothing.
    BOOST_TEST_MESSAGE("peak RSS not checked: a sanitizer build");
    return;
#endif
    BOOST_TEST(peak_kib < limit_kib, "reprocess peak RSS " << peak_kib << " KiB, limit (2 x largest body + 30 MiB) "
                                                           << limit_kib << " KiB");
}

// Found while moving events off COPY: libpqxx 6.4 sends a subtransaction's SAVEPOINT with its first
// exec(), not with an exec_prepared(), and every statement reprocess runs is prepared. A group whose
// typed rows are all prepared statements (a demand delivery's) ran outside its savepoint: one
// failure aborted the page's transaction, the good deliveries were not rebuilt, and the poison
// one's demand rows, deleted before its rows were written again, went only with the rollback.
BOOST_AUTO_TEST_CASE(reprocess_rebuilds_a_page_of_demand_past_a_poison_delivery_and_keeps_its_rows) {
    AckSite site({}, false);
    const std::vector<std::string> hotels{"81001", "81002", "81666", "81004"};
    for (const auto& hotel : hotels) {
        auto r = site.post("/hoteldemand", R"({"demand": [{"hotelCode": )" + hotel +
                                               R"(, "date": "2026-03-01", "absoluteDemand": 830, "relativeDemand": 61, )"
                                               R"("eventsRegistered": 2}]})");
        BOOST_TEST_REQUIRE(r.status == 202u, describe(r));
    }
    site.raise_on_insert("esr_bad_demand", "hotel_demand", "hotel_code", "81666", "BAD demand");
    auto rows = [&](const std::string& hotel) {
        return site.sql("SELECT count(*) FROM eventsshop.hotel_demand WHERE hotel_code = '" + hotel + "'")[0][0]
            .as<long long>();
    };
    const long long poison_rows = rows("81666");
    BOOST_TEST_REQUIRE(poison_rows == 1);
    std::string out;
    int status = run({ESR_DAEMON_PATH, "reprocess"}, site.env, &out);
    BOOST_TEST_MESSAGE("reprocess exited " << status << ":\n" << out);
    BOOST_TEST(out.find("reprocessed 3/4") != std::string::npos, out);
    BOOST_TEST(rows("81666") == poison_rows, "the poison delivery's demand rows were not kept");
    for (const auto& hotel : {"81001", "81002", "81004"}) BOOST_TEST(rows(hotel) == 1, hotel);
    site.sql("DROP TRIGGER esr_bad_demand ON eventsshop.hotel_demand");
}

// From review: a database that takes no writes for a while (read-only after a failover, privileges
// revoked, a table missing mid-migration) refuses every delivery alike. That is not the
// deliveries' fault: live intake spools them (never 500) and the drain pauses, keeping them in the
// spool; nothing is quarantined, and once writes are back every one is stored.
BOOST_AUTO_TEST_CASE(a_database_that_takes_no_writes_pauses_the_drain_and_quarantines_nothing) {
    AckSite site({}, true);
    // Any INSERT into deliveries fails as on a read-only standby (SQLSTATE 25006).
    site.sql(R"(
CREATE FUNCTION public.esr_read_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'cannot execute INSERT in a read-only transaction' USING ERRCODE = 'read_only_sql_transaction';
END $$;
CREATE TRIGGER esr_read_only BEFORE INSERT ON eventsshop.deliveries FOR EACH ROW EXECUTE FUNCTION public.esr_read_only();
)");
    std::vector<std::string> bodies;
    for (int i = 0; i < 3; ++i) {
        bodies.push_back(R"({"eventId": )" + std::to_string(63'000'001 + i) + R"(, "eventName": "Read-only"})");
        auto r = site.post("/", bodies.back());
        BOOST_TEST(r.status == 202u, describe(r));
        BOOST_TEST(is_spooled(r), describe(r));
    }
    std::this_thread::sleep_for(3s);  // several drain attempts meet the same refusal
    BOOST_TEST(site.spooled().value_or(0) == 3u, "the drain must keep what it cannot store now");
    std::error_code ec;
    BOOST_TEST((!std::filesystem::exists(site.state() / "quarantine", ec) ||
                std::filesystem::is_empty(site.state() / "quarantine", ec)));

    site.sql("DROP TRIGGER esr_read_only ON eventsshop.deliveries");
    BOOST_TEST_REQUIRE(site.wait_drained(30s), site.daemon->log());
    for (const auto& b : bodies) BOOST_TEST(site.stored(b) == 1, b);
    BOOST_TEST((!std::filesystem::exists(site.state() / "quarantine", ec) ||
                std::filesystem::is_empty(site.state() / "quarantine", ec)));
}

// From the second review: an older daemon spooled the peer's address as it came, an IPv6 zone
// ("fe80::1%eth0") or non-address text included, which PostgreSQL's inet refuses. Such a record was
// acknowledged: it must be stored (the address NULL or cleaned), not quarantined.
BOOST_AUTO_TEST_CASE(a_spooled_record_with_an_address_postgresql_refuses_is_stored) {
    AckSite site({}, true);
    BOOST_TEST_REQUIRE(site.daemon->terminate() == 0);
    const std::string zoned = R"({"eventId": 64888001, "eventName": "From a zoned peer"})";
    const std::string garbled = R"({"eventId": 64888002, "eventName": "From no address at all"})";
    {
        std::filesystem::create_directories(site.state() / "spool");
        std::ofstream out(site.state() / "spool" / "spool.log", std::ios::binary | std::ios::trunc);
        out << spool_record("/", zoned, "fe80::1%eth0") << spool_record("/", garbled, "not an address");
        BOOST_TEST_REQUIRE(out.good());
    }
    site.start();
    BOOST_TEST(site.wait_drained(30s), "spool records after 30 s: " << site.spooled().value_or(999));
    BOOST_TEST(site.stored(zoned) == 1);
    BOOST_TEST(site.stored(garbled) == 1);
    BOOST_TEST(site.sql("SELECT host(remote_addr) FROM eventsshop.deliveries WHERE body_sha256 = decode('" +
                        sha256_hex(zoned) + "', 'hex')")[0][0].c_str() == std::string("fe80::1"));
    std::error_code ec;
    BOOST_TEST((!std::filesystem::exists(site.state() / "quarantine", ec) ||
                std::filesystem::is_empty(site.state() / "quarantine", ec)));
}

// 12. A role or database default of synchronous_commit = off would make a 2xx not durable.
BOOST_AUTO_TEST_CASE(every_session_commits_synchronously) {
    AckSite site({}, false);
    site.sql(R"(
ALTER ROLE postgres SET synchronous_commit = off;
CREATE TABLE public.esr_commit_mode (setting text NOT NULL);
CREATE FUNCTION public.esr_record_commit_mode() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.esr_commit_mode VALUES (current_setting('synchronous_commit'));
    RETURN NEW;
END $$;
CREATE TRIGGER esr_record_commit_mode AFTER INSERT ON eventsshop.deliveries
    FOR EACH ROW EXECUTE FUNCTION public.esr_record_commit_mode();
)");
    BOOST_TEST_REQUIRE(site.sql("SHOW synchronous_commit")[0][0].as<std::string>() == "off");  // the trap is set
    BOOST_TEST_REQUIRE(site.daemon->terminate() == 0);
    site.start();  // its sessions start with the role's setting
    auto r = site.post("/", unique_body("synchronous commit"));
    BOOST_TEST_REQUIRE(r.status == 202u, describe(r));
    auto seen = site.sql("SELECT setting FROM public.esr_commit_mode");
    BOOST_TEST_REQUIRE(seen.size() >= 1u);
    for (const auto& row : seen) BOOST_TEST(row[0].as<std::string>() == "on");
}

// 12b. A database address that accepts TCP and never answers: libpq without connect_timeout waits
// for ever, and the readiness check runs before the daemon listens.
BOOST_AUTO_TEST_CASE(a_black_holed_database_does_not_hang_readiness) {
    int hole = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_TEST_REQUIRE(::bind(hole, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    BOOST_TEST_REQUIRE(::listen(hole, 128) == 0);  // the kernel completes handshakes; nobody ever answers
    socklen_t len = sizeof addr;
    ::getsockname(hole, reinterpret_cast<sockaddr*>(&addr), &len);
    const std::string url = "postgresql://postgres@127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/eventsshop";

    TempDir dir;
    const int port = free_port();
    Daemon daemon({"serve", "--listen", "127.0.0.1:" + std::to_string(port), "--state-dir",
                   (dir.path / "state").string(), "--health-interval", "200ms", "--max-body-bytes",
                   std::to_string(max_body), "--header-timeout", "1s", "--idle-timeout", "30s"},
                  daemon_env(url), dir.path / "daemon.log");
    bool listening = false;
    for (auto deadline = std::chrono::steady_clock::now() + 20s;
         !listening && std::chrono::steady_clock::now() < deadline && daemon.running();
         std::this_thread::sleep_for(100ms)) {
        try {
            listening = HttpClient(port).request("GET", "/healthz").status == 200;
        } catch (const std::exception&) {
        }
    }
    if (!listening) {
        BOOST_ERROR("the daemon did not answer /healthz within 20 s; its log:\n" << daemon.log());
        daemon.kill_hard();
        ::close(hole);
        return;
    }
    auto started = std::chrono::steady_clock::now();
    HttpResponse ready;
    try {
        ready = HttpClient(port).request("GET", "/readyz");
    } catch (const std::exception& e) {
        BOOST_ERROR("/readyz: no answer: " << e.what());
    }
    BOOST_TEST(ready.status == 503u, describe(ready));
    BOOST_TEST((std::chrono::steady_clock::now() - started < 3s));

    started = std::chrono::steady_clock::now();
    try {
        auto r = HttpClient(port).request("POST", "/", unique_body("black hole"), {{"Authorization", bearer_new}});
        BOOST_TEST(r.status == 202u, describe(r));
        BOOST_TEST(is_spooled(r), describe(r));
    } catch (const std::exception& e) {
        BOOST_ERROR("POST: no answer within 20 s: " << e.what());
    }
    BOOST_TEST((std::chrono::steady_clock::now() - started < 20s));
    daemon.kill_hard();  // a daemon stuck in connect() may not stop on SIGTERM
    ::close(hole);
}

BOOST_AUTO_TEST_SUITE_END()
