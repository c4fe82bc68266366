// A 2xx means durable, and every request gets an answer: the cases where the daemon today
// acknowledges what it cannot keep, refuses what it could keep, answers 500 for a transient
// failure, blocks on one poison record, or leaves a request without an answer. Each test runs
// against its own PostgreSQL and daemon, with every wait bounded.
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

// 1. A large body is spooled unparsed today, so an invalid one gets 202 and is refused later.
BOOST_AUTO_TEST_CASE(a_large_invalid_body_is_refused_even_when_it_would_be_spooled) {
    AckSite site({"--large-body-bytes", "4096"}, true);
    site.pg.stop();

    const std::string valid = events_array(51'000'000, 80, "Large");
    BOOST_TEST_REQUIRE(valid.size() > 10'000u);
    const std::string invalid = valid.substr(0, 10'000);  // cut off inside the array
    auto r = site.post("/", invalid);
    BOOST_TEST(r.status == 400u, "large invalid JSON with the database down: " << describe(r));
    BOOST_TEST(error_code(r) == "invalid_json", describe(r));

    const std::string mismatch = events_array(52'000'000, 80, "Mismatch");
    auto m = site.post("/hoteldemand", mismatch);
    BOOST_TEST(m.status == 400u, "large eventsinfo body posted to /hoteldemand, database down: " << describe(m));
    BOOST_TEST(error_code(m) == "kind_mismatch", describe(m));

    auto ok = site.post("/", valid);
    BOOST_TEST_REQUIRE(ok.status == 202u, describe(ok));
    BOOST_TEST(is_spooled(ok), describe(ok));

    site.pg.start();
    BOOST_TEST_REQUIRE(site.wait_drained(30s), site.daemon->log());
    auto row = site.stored_row(valid);
    BOOST_TEST_REQUIRE(row.size() == 1u);
    BOOST_TEST(row[0][0].as<long long>() == static_cast<long long>(valid.size()));
    BOOST_TEST(row[0][1].as<long long>() == static_cast<long long>(valid.size()));
    BOOST_TEST(row[0][2].as<std::string>() == sha256_hex(valid));
}

// 2. One body whose typed rows cannot be written (integer out of range) must not hold the spool.
BOOST_AUTO_TEST_CASE(a_poison_record_does_not_block_the_spool) {
    AckSite site({}, true);
    site.pg.stop();
    const std::vector<std::string> bodies{
        R"({"eventId": 53000001, "eventName": "Poison", "city": "Oslo", "eventStatusCode": 3000000000})",
        R"({"eventId": 53000002, "eventName": "After the poison", "city": "Oslo"})",
        R"({"eventId": 53000003, "eventName": "After the poison, too", "city": "Oslo"})"};
    for (const auto& body : bodies) {
        auto r = site.post("/", body);
        BOOST_TEST_REQUIRE(r.status == 202u, describe(r));
        BOOST_TEST_REQUIRE(is_spooled(r), describe(r));
    }
    site.pg.start();
    BOOST_TEST(site.wait_drained(30s), "spool records after 30 s: " << site.spooled().value_or(999)
                                                                    << "; log:\n" << site.daemon->log());
    for (const auto& body : bodies) BOOST_TEST(site.stored(body) == 1, body);
    auto row = site.sql("SELECT status_code IS NULL, extra::text FROM eventsshop.events WHERE event_id = 53000001");
    BOOST_TEST(row.size() == 1u, "the poison delivery's event row is missing");
    if (row.size() == 1) {
        BOOST_TEST(row[0][0].as<bool>(), "status_code should be NULL");
        BOOST_TEST(row[0][1].as<std::string>().find("3000000000") != std::string::npos, row[0][1].as<std::string>());
    }
}

// 4. Two daemons appending to and draining one spool would each replay the other's records.
BOOST_AUTO_TEST_CASE(a_second_daemon_on_the_same_state_dir_exits_2) {
    AckSite site({}, true);
    const int second_port = free_port();
    Daemon second({"serve", "--listen", "127.0.0.1:" + std::to_string(second_port), "--state-dir",
                   site.state().string(), "--health-interval", "200ms"},
                  site.env, site.dir.path / "second-daemon.log");
    auto status = second.wait_exit(10s);
    BOOST_TEST(status.has_value(), "a second daemon on the same --state-dir still runs after 10 s; its log:\n"
                                       << second.log());
    if (status) {
        BOOST_TEST(*status == 2);
        BOOST_TEST(second.log().find("--state-dir") != std::string::npos, second.log());
    }
    if (second.running()) second.kill_hard();
    auto r = site.post("/", unique_body("first daemon still serving"));
    BOOST_TEST(r.status == 202u, describe(r));
}

// 6. The small lane keeps a body whose typed rows fail (record_count 0); the large lane answers 500.
BOOST_AUTO_TEST_CASE(a_large_delivery_whose_typed_rows_fail_keeps_its_body) {
    AckSite site({"--large-body-bytes", "4096"}, false);
    site.raise_on_insert("esr_poison_demand", "hotel_demand", "hotel_code", "POISON", "poison hotel row");
    const std::string large = demand_matrix(10, 30, 610001, "POISON");
    const std::string small = demand_matrix(1, 2, 610002, "POISON");
    BOOST_TEST_REQUIRE(large.size() > 4096u);
    BOOST_TEST_REQUIRE(small.size() < 4096u);
    for (const auto* body : {&large, &small}) {
        const char* lane = body == &large ? "large lane" : "small lane";
        auto r = site.post("/hoteldemand", *body);
        BOOST_TEST(r.status == 202u, lane << ": " << describe(r));
        auto row = site.stored_row(*body);
        BOOST_TEST(row.size() == 1u, lane << ": the body is not in eventsshop.deliveries");
        if (row.size() != 1) continue;
        BOOST_TEST(row[0][0].as<long long>() == static_cast<long long>(body->size()), lane);
        BOOST_TEST(row[0][1].as<long long>() == static_cast<long long>(body->size()), lane);
        BOOST_TEST(row[0][2].as<std::string>() == sha256_hex(*body), lane);
        BOOST_TEST(row[0][3].as<long long>() == 0, lane);
    }
}

// 7. A backend that dies during the large lane's COPY (or the small lane's upsert) is a lost
// connection: spooled (or 503 without a spool), never 500.
BOOST_AUTO_TEST_CASE(a_connection_lost_during_copy_is_spooled_not_500) {
    const std::vector<std::string> flags{"--large-body-bytes", "4096", "--max-body-bytes", "67108864"};
    AckSite site(flags, true);
    const int plain_port = free_port();
    auto plain = start_daemon(plain_port, site.env, site.dir.path, flags);  // same database, no spool
    site.sql(kill_once_function);
    site.sql("CREATE TRIGGER esr_kill_demand BEFORE INSERT ON eventsshop.hotel_demand "
             "FOR EACH ROW EXECUTE FUNCTION public.esr_kill_once()");
    site.sql("CREATE TRIGGER esr_kill_events BEFORE INSERT ON eventsshop.events "
             "FOR EACH ROW EXECUTE FUNCTION public.esr_kill_once()");

    struct Scenario {
        std::string name;
        bool spool;
        std::string path;
        std::string body;
    };
    const std::vector<Scenario> scenarios{
        {"large lane (COPY into hotel_demand), with a spool", true, "/hoteldemand", demand_matrix(300, 100, 620001)},
        {"small lane (events), with a spool", true, "/", R"({"eventId": 62000002, "eventName": "Killed once"})"},
        {"large lane (COPY into hotel_demand), no spool", false, "/hoteldemand", demand_matrix(300, 100, 620003)},
        {"small lane (events), no spool", false, "/", R"({"eventId": 62000004, "eventName": "Killed once"})"}};
    for (const auto& s : scenarios) {
        BOOST_TEST_CONTEXT(s.name) {
            site.sql("ALTER SEQUENCE public.kill_once RESTART");
            HttpResponse r;
            try {
                r = site.post_to(s.spool ? site.port : plain_port, s.path, s.body);
            } catch (const std::exception& e) {
                BOOST_ERROR("no answer: " << e.what());
                continue;
            }
            BOOST_TEST_MESSAGE(s.name << ": " << describe(r));
            BOOST_TEST(r.status != 500u, describe(r));
            BOOST_TEST(site.sql("SELECT is_called FROM public.kill_once")[0][0].as<bool>(),
                       "the trigger never ran: the scenario tests nothing");
            if (s.spool) {
                BOOST_TEST(r.status == 202u, describe(r));
            } else {
                BOOST_TEST((r.status == 202u || r.status == 503u), describe(r));
                if (r.status == 503u) BOOST_TEST(!r.header("retry-after").empty());
            }
            if (r.status / 100 == 2) {
                if (s.spool) BOOST_TEST(site.wait_drained(30s), site.daemon->log());
                BOOST_TEST(site.stored(s.body) == 1);
            }
        }
    }
}

// 8. A batch fails on a poison delivery, the writer retries each alone, and the connection drops
// during that retry: today the deliveries after the one that lost the connection get no answer.
BOOST_AUTO_TEST_CASE(every_delivery_of_a_batch_gets_an_answer_when_the_connection_drops_during_the_retry) {
    AckSite site({"--db-writers", "1"}, false);
    // BAD fails any transaction it is in (not transient). KILL kills its backend once, and only after
    // BAD has failed a batch, so the kill comes in the one-at-a-time retry.
    site.sql(R"(
CREATE SEQUENCE public.bad_seen;
CREATE SEQUENCE public.kill_once;
CREATE FUNCTION public.esr_bad_or_kill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name = 'BAD' THEN
        PERFORM nextval('public.bad_seen');
        RAISE EXCEPTION 'BAD event';
    END IF;
    IF NEW.name = 'KILL' AND (SELECT is_called FROM public.bad_seen) AND nextval('public.kill_once') = 1 THEN
        PERFORM pg_terminate_backend(pg_backend_pid());
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER esr_bad_or_kill BEFORE INSERT ON eventsshop.events
    FOR EACH ROW EXECUTE FUNCTION public.esr_bad_or_kill();
)");
    pqxx::connection locker(site.pg.url());
    auto hold = std::make_unique<pqxx::work>(locker);
    hold->exec("LOCK TABLE eventsshop.deliveries IN SHARE MODE");

    const std::vector<std::string> names{"Holds the writer", "Good 1", "BAD", "Good 2", "KILL", "Good 3", "Good 4"};
    std::mutex mutex;
    std::vector<std::optional<HttpResponse>> answers(names.size());
    std::vector<std::string> failures(names.size()), bodies(names.size());
    std::vector<std::thread> senders;
    for (std::size_t i = 0; i < names.size(); ++i) {
        bodies[i] = R"({"eventId": )" + std::to_string(63'000'000 + i) + R"(, "eventName": ")" + names[i] + R"("})";
        senders.emplace_back([&, i] {
            try {
                auto r = site.post_to(site.port, "/", bodies[i]);
                std::lock_guard lock(mutex);
                answers[i] = std::move(r);
            } catch (const std::exception& e) {
                std::lock_guard lock(mutex);
                failures[i] = e.what();
            }
        });
        // The first is taken alone and waits on the lock; the rest queue, in this order, as one batch.
        std::this_thread::sleep_for(i == 0 ? 400ms : 100ms);
    }
    std::this_thread::sleep_for(200ms);
    hold.reset();  // rolled back: the writer goes on
    for (auto& t : senders) t.join();

    BOOST_TEST(site.sql("SELECT is_called FROM public.bad_seen")[0][0].as<bool>(), "BAD never failed a batch");
    BOOST_TEST(site.sql("SELECT is_called FROM public.kill_once")[0][0].as<bool>(), "KILL never killed a backend");
    for (std::size_t i = 0; i < names.size(); ++i) {
        BOOST_TEST_CONTEXT(names[i]) {
            BOOST_TEST(answers[i].has_value(), "no HTTP answer: " << failures[i]);
            if (!answers[i]) continue;
            const auto& r = *answers[i];
            BOOST_TEST((r.status / 100 == 2 || r.status == 503u), describe(r));
            if (r.status / 100 == 2) BOOST_TEST(site.stored(bodies[i]) == 1);
        }
    }
}

// 9. statement_timeout bounds each statement; the large lane's COPY lasts as long as the body takes to
// parse, so a big enough body is cancelled (57014), taken for transient, and spooled for ever.
BOOST_AUTO_TEST_CASE(a_statement_timeout_does_not_cover_a_large_body_parse) {
    AckSite site({"--large-body-bytes", "4096", "--statement-timeout", "200ms", "--max-body-bytes", "67108864",
                  "--body-timeout", "20s"},
                 true);
    const std::string body = demand_matrix(1000, 280, 630001);  // about 30 MB
    BOOST_TEST_MESSAGE("city matrix of " << body.size() << " bytes");
    auto started = std::chrono::steady_clock::now();
    auto r = site.post("/hoteldemand", body);
    BOOST_TEST_MESSAGE("answered in " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - started)
                                             .count()
                                      << " ms");
    BOOST_TEST_REQUIRE(r.status == 202u, describe(r));
    BOOST_TEST(!is_spooled(r), "spooled instead of stored: " << describe(r));
    auto j = json_or_nothing(r);
    BOOST_TEST_REQUIRE(j.has_value());
    BOOST_TEST(j->at("delivery_id").is_number(), describe(r));
    BOOST_TEST(site.stored(body) == 1);
}

BOOST_AUTO_TEST_SUITE_END()
