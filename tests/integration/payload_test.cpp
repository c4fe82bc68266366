// Every sample delivery through the real daemon into a real PostgreSQL, down to the typed rows.
// Each test has a receiver of its own (its own PostgreSQL and daemon), so it counts only its own
// deliveries and runs alone (--run_test=payloads/<case>).
#include "world.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <pqxx/binarystring>
#include <pqxx/nontransaction>
#include <pqxx/transaction>

#include <fstream>
#include <random>
#include <thread>

using namespace esr::test;

namespace {

struct Sample {
    const char* file;
    const char* kind;
    int records;
};

// In this order on purpose: richer event records first, so the later, thinner ones show the merge.
const Sample samples[] = {
    {"eventsinfo-envelope.json", "eventsinfo", 3},
    {"eventsinfo-object.json", "eventsinfo", 1},
    {"eventsinfo-array.json", "eventsinfo", 2},
    {"eventimpact-object.json", "eventimpact", 6},   // 5 impacts + the event
    {"eventimpact-rows.json", "eventimpact", 4},     // 2 impacts + 2 events
    {"hoteldemand-hotel.json", "hoteldemand", 5},
    {"hoteldemand-city.json", "hoteldemand", 7},     // 4 demand rows + 2 event records + 1 event
    {"status-notification.json", "unclassified", 0},
};

/// A PostgreSQL and a daemon of the test's own, and what the tests ask of them.
struct Receiver : Site {
    explicit Receiver(std::vector<std::string> extra_args = {}) : Site(std::move(extra_args)) {}

    HttpResponse send(const std::string& path, const std::string& body) { return post(path, body); }

    pqxx::connection connect() { return pqxx::connection(pg.url()); }

    std::string query1(const std::string& sql) { return pg.query1(sql); }

    long long count(const std::string& table) { return std::stoll(query1("SELECT count(*) FROM eventsshop." + table)); }

    // Every typed table as text, in a fixed order: two snapshots are equal when the rows are.
    std::string snapshot() {
        std::string all;
        for (const char* table : {"events", "event_impacts", "hotel_demand", "hotel_demand_latest", "demand_event_records"})
            all += std::string(table) + ":\n" +
                   query1(std::string("SELECT string_agg(t::text, E'\\n' ORDER BY t::text) FROM eventsshop.") + table +
                          " t") +
                   "\n";
        return all;
    }

    // The typed rows without the columns that hold times, which differ from one run to the next.
    std::string content_snapshot() {
        std::string all;
        const std::pair<const char*, const char*> tables[] = {
            {"events", "event_id, name, category, sub_category, description, start_date, end_date, estimated_attendee, "
                       "attendee_min, attendee_max, venue, address, city, state, zip, country, region, lat, lng, "
                       "status_code, extra, last_delivery_id"},
            {"event_impacts", "event_id, impact_date, impact_score, delivery_id"},
            {"hotel_demand", "delivery_id, demand_id, hotel_code, hotel_name, city, country, stay_date, absolute_demand, "
                             "relative_demand, events_registered, extra"},
            {"hotel_demand_latest", "hotel_code, stay_date, demand_id, hotel_name, city, country, absolute_demand, "
                                    "relative_demand, events_registered, delivery_id"},
            {"demand_event_records", "delivery_id, demand_id, event_id, event_name, venue, category, event_date, "
                                     "estimated_attendee, attendee_min, attendee_max, extra"},
            {"deliveries", "id, kind, record_count, declared_kind, classification, byte_size, principal, "
                           "host(remote_addr), body_sha256 = sha256(body), latest_pending"},
        };
        for (const auto& [table, columns] : tables)
            all += std::string(table) + ":\n" +
                   query1(std::string("SELECT string_agg(t::text, E'\\n' ORDER BY t::text) FROM (SELECT ") + columns +
                          " FROM eventsshop." + table + ") t") +
                   "\n";
        return all;
    }

    int run_daemon(const std::vector<std::string>& args, std::string* out) {
        std::vector<std::string> argv{ESR_DAEMON_PATH};
        argv.insert(argv.end(), args.begin(), args.end());
        return run(argv, env, out);
    }

    /// Polls `sql` for up to ten seconds until it answers `expected`.
    bool wait_until(const std::string& sql, const std::string& expected) {
        for (int i = 0; i < 100; ++i) {
            if (query1(sql) == expected) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return false;
    }
    // The large lane brings hotel_demand_latest up to date just after it answers.
    bool wait_latest_applied() { return wait_until("SELECT count(*) FROM eventsshop.deliveries WHERE latest_pending", "0"); }
    bool wait_latest_has(const std::string& hotel_code) {
        return wait_until("SELECT count(*) FROM eventsshop.hotel_demand_latest WHERE hotel_code = '" + hotel_code + "'", "1");
    }

    /// Every sample, in order, each acknowledged.
    void send_samples() {
        for (const auto& s : samples) {
            auto r = send("/", fixture(s.file));
            BOOST_TEST_REQUIRE(r.status == 202u, s.file << ": " << r.body);
        }
    }
};

/// Every body takes the large-delivery lane (parsed streaming by the writer, rows through COPY).
struct LargeLaneReceiver : Receiver {
    LargeLaneReceiver() : Receiver({"--large-body-bytes", "1"}) {}
};
struct LargeLaneFor16MiB : Receiver {
    LargeLaneFor16MiB() : Receiver({"--large-body-bytes", "1", "--max-body-bytes", "16777216", "--body-timeout", "20s"}) {}
};

/// For the tests of what the samples leave in the tables.
struct SamplesSent : Receiver {
    SamplesSent() { send_samples(); }
};
struct LargeLaneSamplesSent : LargeLaneReceiver {
    LargeLaneSamplesSent() { send_samples(); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(payloads)

BOOST_FIXTURE_TEST_CASE(every_sample_is_classified_and_acknowledged, Receiver) {
    for (const auto& s : samples) {
        BOOST_TEST_CONTEXT(s.file) {
            auto r = send("/", fixture(s.file));
            BOOST_TEST_REQUIRE(r.status == 202u, r.body);
            auto j = json_of(r);
            BOOST_TEST(j.at("kind").as_string() == s.kind);
            BOOST_TEST(j.at("records").as_int64() == s.records);
            auto id = std::to_string(j.at("delivery_id").as_int64());
            BOOST_TEST(query1("SELECT kind || '/' || record_count FROM eventsshop.deliveries WHERE id = " + id) ==
                       std::string(s.kind) + "/" + std::to_string(s.records));
        }
    }
    BOOST_TEST(count("deliveries") == 8);
}

BOOST_FIXTURE_TEST_CASE(events_hold_the_merged_values, SamplesSent) {
    BOOST_TEST(count("events") == 6);
    auto row = [this](const std::string& id, const std::string& cols) {
        return query1("SELECT concat_ws('|', " + cols + ") FROM eventsshop.events WHERE event_id = " + id);
    };
    // Rich in eventsinfo-envelope; eventimpact-rows later carried only id, name, city, country.
    BOOST_TEST(row("12", "name, category, sub_category, start_date, end_date, estimated_attendee, attendee_min, "
                         "attendee_max, venue, address, city, state, zip, country, region, lat, lng, status_code") ==
               "The Simon and Garfunkel Story|1|7|2025-10-02|2025-10-02|100-500|100|500|"
               "Wilson Center at Cape Fear Community College|703 N 3rd St|Wilmington|North Carolina|28401|"
               "United States|North_America|34.2423|-77.9476|1");
    BOOST_TEST(row("12", "description") == "A theatrical concert celebrating Simon & Garfunkel");
    // Rescheduled (2) in the envelope, scheduled (1) in the later eventimpact-object: the later
    // known value wins; its missing description and address do not erase the earlier ones.
    BOOST_TEST(row("884201", "status_code, description, address, zip, attendee_min") ==
               "1|Trade show for the mobile industry|Av. Joan Carles I, 64|08908|50000");
    BOOST_TEST(query1("SELECT attendee_max IS NULL FROM eventsshop.events WHERE event_id = 884201") == "t");
    // null description, numbers sent as numbers, an empty address kept as empty.
    BOOST_TEST(query1("SELECT description IS NULL FROM eventsshop.events WHERE event_id = 990017") == "t");
    BOOST_TEST(row("990017", "name, estimated_attendee, attendee_min, lat, lng, state, '[' || address || ']'") ==
               "Fête de la Musique – Place de la République|20000|20000|48.8674|2.3636|Île-de-France|[]");
    BOOST_TEST(query1("SELECT (address IS NULL AND zip IS NULL AND lat IS NULL AND lng IS NULL)::text "
                      "FROM eventsshop.events WHERE event_id = 502") == "true");
    BOOST_TEST(row("3531599", "venue, lat, lng, zip") == "Estadio Centenario|-34.7269|-58.2562|B1878");
    BOOST_TEST(query1("SELECT count(*) FROM eventsshop.events WHERE extra <> '{}'::jsonb") == "0");
    BOOST_TEST(query1("SELECT (first_seen_at < last_seen_at)::text FROM eventsshop.events WHERE event_id = 884201") == "true");
}

BOOST_FIXTURE_TEST_CASE(impacts_demand_and_event_records, SamplesSent) {
    BOOST_TEST(count("event_impacts") == 7);
    BOOST_TEST(query1("SELECT string_agg(impact_date || '=' || impact_score, ',' ORDER BY impact_date) "
                      "FROM eventsshop.event_impacts WHERE event_id = 884201") ==
               "2026-03-01=41,2026-03-02=88,2026-03-03=97,2026-03-04=95,2026-03-05=72");
    BOOST_TEST(query1("SELECT impact_score FROM eventsshop.event_impacts WHERE event_id = 3531599 "
                      "AND impact_date = '2025-08-02'") == "34");

    BOOST_TEST(count("hotel_demand") == 9);
    BOOST_TEST(query1("SELECT concat_ws('|', demand_id, hotel_name, city, country, absolute_demand, relative_demand, "
                      "events_registered) FROM eventsshop.hotel_demand WHERE hotel_code = '22871' "
                      "AND stay_date = '2026-03-03'") == "613|W Barcelona|Barcelona|Spain|702|78|5");
    BOOST_TEST(query1("SELECT count(*) FROM eventsshop.hotel_demand WHERE hotel_code = '12345' AND demand_id = 612") == "5");

    BOOST_TEST(count("hotel_demand_latest") == 7);
    // 2026-03-02 for hotel 12345 was observed twice: the city delivery came later.
    BOOST_TEST(query1("SELECT demand_id FROM eventsshop.hotel_demand_latest WHERE hotel_code = '12345' "
                      "AND stay_date = '2026-03-02'") == "613");

    BOOST_TEST(count("demand_event_records") == 2);
    BOOST_TEST(query1("SELECT string_agg(concat_ws('|', demand_id, event_id, event_date, estimated_attendee, attendee_min), ',' "
                      "ORDER BY event_date) FROM eventsshop.demand_event_records") ==
               "613|884201|2026-03-02|>50000|50000,613|884201|2026-03-03|>50000|50000");
}

BOOST_FIXTURE_TEST_CASE(views_answer_the_common_questions, SamplesSent) {
    BOOST_TEST(query1("SELECT count(*) FROM eventsshop.event_days WHERE event_id = 884201") == "4");
    BOOST_TEST(query1("SELECT concat_ws('|', hotels, absolute_demand) FROM eventsshop.city_daily_demand "
                      "WHERE city = 'Barcelona' AND stay_date = '2026-03-03'") == "2|2203");
    BOOST_TEST(query1("SELECT name FROM eventsshop.event_impact_details WHERE event_id = 12") ==
               "The Simon and Garfunkel Story");
    // As of before the city delivery, 12345 on 2026-03-02 was the hotel delivery's figure.
    BOOST_TEST(query1("SELECT demand_id FROM eventsshop.hotel_demand_as_of("
                      "(SELECT received_at FROM eventsshop.deliveries WHERE classification LIKE '5 records%' "
                      " AND kind = 'hoteldemand')) WHERE hotel_code = '12345' AND stay_date = '2026-03-02'") == "612");
    BOOST_TEST(query1("SELECT demand_id FROM eventsshop.hotel_demand_as_of(now()) WHERE hotel_code = '12345' "
                      "AND stay_date = '2026-03-02'") == "613");
}

BOOST_FIXTURE_TEST_CASE(sending_every_sample_again_adds_nothing, SamplesSent) {
    auto before = snapshot();
    auto deliveries = count("deliveries");
    for (const auto& s : samples) {
        BOOST_TEST_CONTEXT(s.file) {
            auto r = send("/", fixture(s.file));
            BOOST_TEST(r.status == 200u, r.body);
            BOOST_TEST(json_of(r).at("duplicate").as_bool() == true);
            BOOST_TEST(json_of(r).at("kind").as_string() == s.kind);
        }
    }
    BOOST_TEST(count("deliveries") == deliveries);
    BOOST_TEST(snapshot() == before);
}

BOOST_FIXTURE_TEST_CASE(not_json_is_400_and_kept_for_diagnosis, Receiver) {
    const std::string body = fixture("malformed-truncated.json");
    auto r = send("/", body);
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(json_of(r).at("error").as_string() == "invalid_json");
    auto c = connect();
    pqxx::nontransaction tx(c);
    auto row = tx.exec1("SELECT body, error, path, principal, byte_size, body_truncated FROM eventsshop.rejected_deliveries "
                        "ORDER BY id DESC LIMIT 1");
    BOOST_TEST(pqxx::binarystring(row[0]).str() == body);
    BOOST_TEST(row[1].as<std::string>().find("at byte 57") != std::string::npos, row[1].as<std::string>());
    BOOST_TEST(row[2].as<std::string>() == "/");
    BOOST_TEST(row[3].as<std::string>() == "bearer:2");
    BOOST_TEST(row[4].as<std::size_t>() == body.size());
    BOOST_TEST(row[5].as<bool>() == false);
}

BOOST_FIXTURE_TEST_CASE(a_body_contradicting_its_path_is_400_and_kept, Receiver) {
    auto before = count("rejected_deliveries");
    auto r = send("/eventsinfo", fixture("hoteldemand-city.json"));
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(json_of(r).at("error").as_string() == "kind_mismatch");
    BOOST_TEST(std::string(json_of(r).at("detail").as_string()).find("hoteldemand") != std::string::npos, r.body);
    BOOST_TEST(count("rejected_deliveries") == before + 1);
    // The path decides only for bodies of no recognisable kind.
    auto ok = send("/eventimpact", R"({"queueid": 99, "statuscode": 2})");
    BOOST_TEST(ok.status == 202u);
    BOOST_TEST(json_of(ok).at("kind").as_string() == "eventimpact");
}

BOOST_FIXTURE_TEST_CASE(text_postgres_cannot_store_is_cleaned_in_typed_columns_only, Receiver) {
    const std::string body = "{\"eventId\": 777, \"eventName\": \"a\\u0000b\", \"venue\": \"caf\xe9\", \"memo\": \"\\u0000\"}";
    auto r = send("/", body);
    BOOST_TEST_REQUIRE(r.status == 202u, r.body);
    BOOST_TEST(query1("SELECT name || '|' || venue || '|' || (extra->>'memo') FROM eventsshop.events WHERE event_id = 777") ==
               "a\xEF\xBF\xBD" "b|caf\xEF\xBF\xBD|\xEF\xBF\xBD");
    auto c = connect();
    pqxx::nontransaction tx(c);
    auto stored = tx.exec_params1("SELECT body FROM eventsshop.deliveries WHERE id = $1", json_of(r).at("delivery_id").as_int64());
    BOOST_TEST(pqxx::binarystring(stored[0]).str() == body);
}

BOOST_FIXTURE_TEST_CASE(a_later_delivery_never_erases_a_known_value, Receiver) {
    BOOST_TEST(send("/", R"({"eventId": 900, "eventName": "First", "venue": "Hall 1", "city": "Lyon", "lat": "45.7"})").status == 202u);
    BOOST_TEST(send("/", R"({"eventId": 900, "eventName": "Renamed", "venue": null})").status == 202u);
    BOOST_TEST(query1("SELECT concat_ws('|', name, venue, city, lat) FROM eventsshop.events WHERE event_id = 900") ==
               "Renamed|Hall 1|Lyon|45.7");
}

// Events reach PostgreSQL as array literals (src/db/array_literal.hpp): text that means something
// inside one (quotes, backslashes, braces, commas, the word NULL, an empty string, spaces and
// control characters at the ends) must come out as it went in, on both lanes.
namespace {
void check_text_is_stored_as_sent(Receiver& receiver, long long first_event) {
    const std::vector<std::pair<std::string, std::string>> texts{
        {R"(a \"quoted\" name)", "a \"quoted\" name"},
        {R"(back\\slash \\\" and \\\\)", "back\\slash \\\" and \\\\"},
        {"{braces}, and, commas", "{braces}, and, commas"},
        {"NULL", "NULL"},
        {"", ""},
        {"  spaced\\t\\n  ", "  spaced\t\n  "},
        {"caf\u00e9 \u65e5\u672c", "caf\u00e9 \u65e5\u672c"},
    };
    long long event = first_event;
    for (const auto& [sent, stored] : texts) {
        BOOST_TEST_CONTEXT(sent) {
            const std::string body = R"({"eventId": )" + std::to_string(event) + R"(, "eventName": ")" + sent +
                                     R"(", "city": ")" + sent + R"(", "myNote": ")" + sent + R"("})";
            auto r = receiver.send("/", body);
            BOOST_TEST_REQUIRE(r.status == 202u, r.body);
            auto c = receiver.connect();
            pqxx::nontransaction tx(c);
            auto row = tx.exec_params1("SELECT name, city, extra->>'myNote' FROM eventsshop.events WHERE event_id = $1",
                                       event);
            BOOST_TEST(row[0].as<std::string>() == stored);
            BOOST_TEST(row[1].as<std::string>() == stored);
            BOOST_TEST(row[2].as<std::string>() == stored);
            ++event;
        }
    }
}
}  // namespace

BOOST_FIXTURE_TEST_CASE(event_text_that_array_literals_escape_is_stored_as_sent, Receiver) {
    check_text_is_stored_as_sent(*this, 7'700'001);
}

// A batch's events go a MiB of text per statement: one event's mentions by two deliveries may
// land in two statements (here in a reprocess page: event 2 after 1's ~1 MB description; the
// sizes are chosen against typed_rows.cpp's bytes_per_statement, 1 MiB: the first statement ends
// after the first delivery's mention of event 2, the second delivery's goes in the next). The
// per-field merge must give what one statement gives: each field from the highest delivery id
// that sent it.
struct MegabyteBodies : Receiver {
    MegabyteBodies() : Receiver({"--max-body-bytes", "4194304"}) {}
};

BOOST_FIXTURE_TEST_CASE(one_events_mentions_split_over_two_statements_merge_as_in_one, MegabyteBodies) {
    const std::string long_text(1'000'000, 'x');
    auto first = send("/", R"([{"eventId": 7800001, "description": ")" + long_text + R"("},
        {"eventId": 7800002, "eventName": "older name", "city": "Older City", "venue": "Older Hall", "description": ")" +
                               std::string(60'000, 'y') + R"("}])");
    BOOST_TEST_REQUIRE(first.status == 202u, first.body);
    auto second = send("/", R"({"eventId": 7800002, "eventName": "newer name", "venue": null})");
    BOOST_TEST_REQUIRE(second.status == 202u, second.body);
    const std::string expected = "newer name|Older City|Older Hall|60000";
    const std::string row_sql = "SELECT concat_ws('|', name, city, venue, length(description)) FROM eventsshop.events "
                                "WHERE event_id = 7800002";
    BOOST_TEST_REQUIRE(query1(row_sql) == expected);
    {
        auto c = connect();
        pqxx::nontransaction tx(c);
        tx.exec("TRUNCATE eventsshop.events");
    }
    std::string out;  // both deliveries in one group: neither is large for reprocess
    BOOST_TEST_REQUIRE(run_daemon({"reprocess", "--large-body-bytes", "4194304"}, &out) == 0, out);
    BOOST_TEST(query1(row_sql) == expected);
    BOOST_TEST(query1("SELECT length(description) FROM eventsshop.events WHERE event_id = 7800001") == "1000000");
}

BOOST_FIXTURE_TEST_CASE(reprocess_restores_the_typed_rows_exactly, SamplesSent) {
    BOOST_TEST_REQUIRE(count("events") > 0);  // something to restore
    auto before = snapshot();
    {
        auto c = connect();
        pqxx::nontransaction tx(c);
        tx.exec("TRUNCATE eventsshop.events, eventsshop.event_impacts, eventsshop.hotel_demand, "
                "eventsshop.hotel_demand_latest, eventsshop.demand_event_records");
    }
    BOOST_TEST(count("events") == 0);
    std::string out;
    BOOST_TEST_REQUIRE(run_daemon({"reprocess"}, &out) == 0, out);
    BOOST_TEST(out.find("reprocessed") != std::string::npos, out);
    BOOST_TEST(snapshot() == before);
    // And once more: idempotent.
    BOOST_TEST_REQUIRE(run_daemon({"reprocess"}, &out) == 0, out);
    BOOST_TEST(snapshot() == before);
}

BOOST_FIXTURE_TEST_CASE(an_unclassified_body_is_reprocessed_once_the_mapping_knows_it, SamplesSent) {
    // As an earlier version (which classified nothing) stored it.
    const std::string body = R"({"events": [{"eventId": 4242, "eventName": "Jazz à Vienne", "city": "Vienne"}], "v": 1})";
    {
        auto c = connect();
        pqxx::nontransaction tx(c);
        tx.exec_params("INSERT INTO eventsshop.deliveries (kind, body, body_sha256, byte_size, principal) "
                       "VALUES ('unclassified', $1, sha256($1), length($1), 'basic:eventsshop')",
                       pqxx::binarystring(body.data(), body.size()));
    }
    std::string out;
    BOOST_TEST_REQUIRE(run_daemon({"reprocess", "--kind", "unclassified"}, &out) == 0, out);
    BOOST_TEST(out.find("1 reclassified") != std::string::npos, out);
    BOOST_TEST(query1("SELECT kind || '/' || record_count FROM eventsshop.deliveries WHERE body_sha256 = sha256("
                      "convert_to('" + body + "', 'UTF8'))") == "eventsinfo/1");
    BOOST_TEST(query1("SELECT name FROM eventsshop.events WHERE event_id = 4242") == "Jazz à Vienne");
    // The status notification is still of no known kind.
    BOOST_TEST(query1("SELECT count(*) FROM eventsshop.deliveries WHERE kind = 'unclassified'") == "1");
}

BOOST_FIXTURE_TEST_CASE(reprocess_has_help_and_refuses_a_bad_kind, Receiver) {
    std::string out;
    BOOST_TEST(run_daemon({"reprocess", "--kind", "weather"}, &out) == 2);
    BOOST_TEST(out.find("--kind") != std::string::npos, out);
}

BOOST_AUTO_TEST_SUITE_END()

// The same samples through the large-delivery lane must give the very same rows.
BOOST_AUTO_TEST_SUITE(large_lane)

BOOST_FIXTURE_TEST_CASE(gives_the_same_rows_as_the_small_lane, LargeLaneReceiver) {
    for (const auto& s : samples) {
        BOOST_TEST_CONTEXT(s.file) {
            auto r = send("/", fixture(s.file));
            BOOST_TEST_REQUIRE(r.status == 202u, r.body);
            BOOST_TEST(json_of(r).at("kind").as_string() == s.kind);
            BOOST_TEST(json_of(r).at("records").as_int64() == s.records);
        }
    }
    // What the same samples give through the small lane, on a receiver of its own.
    std::string expected;
    {
        Receiver small;
        small.send_samples();
        expected = small.content_snapshot();
    }
    BOOST_TEST(expected.find("Barcelona") != std::string::npos);
    BOOST_TEST_REQUIRE(wait_latest_applied());
    BOOST_TEST(content_snapshot() == expected);
}

// The large lane writes its delivery's row, body included, by COPY in pieces of at most 1 MiB:
// libpq's send buffer (kept as large as the largest message a connection sent) stays small, so a
// connection that stored a large body is kept for the next one, not closed and opened again.
BOOST_FIXTURE_TEST_CASE(a_connection_that_stored_9_mib_is_kept, LargeLaneFor16MiB) {
    const std::string writer = "SELECT coalesce(max(pid)::text, 'none') FROM pg_stat_activity "
                               "WHERE application_name = 'eventsshop-receiver large writer'";
    BOOST_TEST_REQUIRE(send("/", R"({"eventId": 8800001, "eventName": "small"})").status == 202u);
    const std::string first = query1(writer);
    BOOST_TEST_REQUIRE(first != "none");
    const std::string big = std::string(9u << 20, ' ') + R"({"eventId": 8800002, "eventName": "big"})";
    auto r = send("/", big);
    BOOST_TEST_REQUIRE(r.status == 202u, r.body);
    BOOST_TEST(query1("SELECT byte_size || ' ' || (body_sha256 = sha256(body)) || ' ' || (body = convert_to('" + big +
                      "', 'UTF8')) FROM eventsshop.deliveries WHERE id = " +
                      std::to_string(json_of(r).at("delivery_id").as_int64())) ==
               std::to_string(big.size()) + " true true");
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // two turns and more
    BOOST_TEST(query1(writer) == first);
    BOOST_TEST(query1("SELECT name FROM eventsshop.events WHERE event_id = 8800002") == "big");
}

// Rows the large lane cannot stream (a demand delivery's event records) go to PostgreSQL as one
// statement parameter, and libpq keeps the send buffer it grew for it as long as the connection
// lives: a writer that kept its connection would hold some 15 MB from this 7 MiB delivery.
BOOST_FIXTURE_TEST_CASE(a_large_delivery_s_unstreamed_rows_leave_no_lasting_buffer, LargeLaneFor16MiB) {
    auto rss_kib = [this] {
        std::ifstream status("/proc/" + std::to_string(daemon->pid()) + "/status");
        for (std::string line; std::getline(status, line);)
            if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
        return -1L;
    };
    BOOST_TEST_REQUIRE(send("/", R"({"eventId": 8810000, "eventName": "small"})").status == 202u);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const long before = rss_kib();
    std::string body = R"({"demandId": 7, "hotelCode": 5, "demand": [{"hotelCode": 5, "date": "2026-05-01", )"
                       R"("absoluteDemand": 1}], "events": [)";
    for (int i = 0; body.size() < (7u << 20); ++i)
        body += std::string(i ? "," : "") + R"({"eventId": )" + std::to_string(8810001 + i) +
                R"(, "eventName": "an event of the city", "date": "2026-05-01", "attendeeMin": 100})";
    body += "]}";
    auto r = send("/hoteldemand", body);
    BOOST_TEST_REQUIRE(r.status == 202u, r.body);
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // two turns and more
    const long after = rss_kib();
    BOOST_TEST(query1("SELECT count(*) FROM eventsshop.demand_event_records") ==
               query1("SELECT count(*) - 1 FROM eventsshop.events WHERE event_id >= 8810000"));
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // Sanitizers keep freed memory in quarantine and shadow all of it: the figure says nothing.
    BOOST_TEST_MESSAGE("RSS not checked: a sanitizer build");
    return;
#endif
    BOOST_TEST(after - before < 8 * 1024, "RSS " << before << " KiB before, " << after << " KiB after");
}

// Every column of the delivery's row as the small lane writes it, for addresses of both families
// and a declared kind or none (the large lane writes the row by binary COPY, field by field).
BOOST_AUTO_TEST_CASE(a_large_delivery_s_row_holds_what_the_small_lane_s_does) {
    const std::vector<std::pair<std::string, std::string>> sent = {
        {"/hoteldemand", "2001:db8::8"}, {"/", "203.0.113.9"}, {"/eventsinfo", "::ffff:198.51.100.7"}};
    auto rows_of = [&](Receiver& receiver, std::size_t event_base) {
        std::string all;
        for (std::size_t i = 0; i < sent.size(); ++i) {
            const std::string body = sent[i].first == "/hoteldemand"
                                         ? R"({"demand": [{"hotelCode": 77, "date": "2026-05-01", "absoluteDemand": )" +
                                               std::to_string(event_base + i) + "}]}"
                                         : R"({"eventId": )" + std::to_string(event_base + i) + R"(, "eventName": "x"})";
            auto r = HttpClient(receiver.port).request("POST", sent[i].first, body,
                                                       {{"Authorization", bearer_new}, {"X-Forwarded-For", sent[i].second}});
            BOOST_TEST_REQUIRE(r.status == 202u, r.body);
            all += receiver.query1(
                       "SELECT concat_ws('|', kind, record_count, declared_kind, classification, byte_size, principal, "
                       "host(remote_addr), family(remote_addr), masklen(remote_addr), body_sha256 = sha256(body), "
                       "convert_from(body, 'UTF8'), received_at <= clock_timestamp(), "
                       "received_at > clock_timestamp() - interval '1 minute') FROM eventsshop.deliveries WHERE id = " +
                       std::to_string(json_of(r).at("delivery_id").as_int64())) +
                   "\n";
        }
        BOOST_TEST(receiver.wait_latest_applied());
        return all;
    };
    Receiver small({"--trusted-proxies", "127.0.0.0/8"});
    Receiver large({"--trusted-proxies", "127.0.0.0/8", "--large-body-bytes", "1"});
    const std::string expected = rows_of(small, 9100);
    BOOST_TEST(expected.find("2001:db8::8|6|128") != std::string::npos, expected);
    BOOST_TEST(rows_of(large, 9100) == expected);
}

BOOST_FIXTURE_TEST_CASE(event_text_that_array_literals_escape_is_stored_as_sent_too, LargeLaneReceiver) {
    payloads::check_text_is_stored_as_sent(*this, 7'700'101);
}

BOOST_FIXTURE_TEST_CASE(duplicates_bad_json_and_mismatches_are_answered_as_on_the_small_lane, LargeLaneSamplesSent) {
    auto again = send("/", fixture("hoteldemand-city.json"));
    BOOST_TEST(again.status == 200u, again.body);
    BOOST_TEST(json_of(again).at("duplicate").as_bool() == true);

    auto before = count("rejected_deliveries");
    auto bad = send("/", fixture("malformed-truncated.json"));
    BOOST_TEST(bad.status == 400u);
    BOOST_TEST(json_of(bad).at("error").as_string() == "invalid_json");
    BOOST_TEST(std::string(json_of(bad).at("detail").as_string()).find("at byte 57") != std::string::npos, bad.body);

    auto mismatch = send("/eventsinfo", R"({"note": 1, "demand": [{"hotelCode": 1, "date": "2026-01-01", "absoluteDemand": 5}]})");
    BOOST_TEST(mismatch.status == 400u);
    BOOST_TEST(json_of(mismatch).at("error").as_string() == "kind_mismatch");
    BOOST_TEST(count("rejected_deliveries") == before + 2);
    BOOST_TEST(count("hotel_demand") == 9);  // the refused body's staged row went with the rollback
}

// Another writer (another instance) claims the same body's digest while the large lane parses it:
// the lane's claim waits for that commit, gets nothing, and answers the other's delivery as a
// duplicate, its own rows gone with its rollback (stored_meanwhile).
BOOST_FIXTURE_TEST_CASE(a_body_claimed_meanwhile_by_another_writer_is_answered_as_its_duplicate, LargeLaneReceiver) {
    const std::string body = R"({"demandId": 8820001, "demand": [{"hotelCode": 88, "date": "2026-06-01", )"
                             R"("absoluteDemand": 3}]})";
    pqxx::connection other(pg.url());
    pqxx::work claim(other);
    const auto id = claim.exec_params1("INSERT INTO eventsshop.delivery_digests (body_sha256, delivery_id, received_at) "
                                       "VALUES (sha256(convert_to($1, 'UTF8')), nextval('eventsshop.delivery_ids'), "
                                       "clock_timestamp()) RETURNING delivery_id",
                                       body)[0]
                        .as<long long>();
    HttpResponse answer;
    std::thread sender([&] { answer = send("/hoteldemand", body); });
    bool waiting = false;  // the large writer's claim, on the uncommitted digest
    for (int i = 0; i < 200 && !waiting; ++i) {
        waiting = query1("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                         "'eventsshop-receiver large writer' AND wait_event_type = 'Lock'") == "1";
        if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    claim.commit();
    sender.join();
    BOOST_TEST(waiting);
    BOOST_TEST(answer.status == 200u, answer.body);
    BOOST_TEST(json_of(answer).at("duplicate").as_bool() == true);
    BOOST_TEST(json_of(answer).at("delivery_id").as_int64() == id);
    BOOST_TEST(count("deliveries") == 0);
    BOOST_TEST(count("hotel_demand") == 0);
    // Answered at once, not by the fallback that stores a body alone after an error.
    BOOST_TEST(daemon->log().find(R"("level":"error")") == std::string::npos, daemon->log());
}

BOOST_FIXTURE_TEST_CASE(latest_left_behind_by_a_crash_is_brought_up_to_date_at_start, LargeLaneSamplesSent) {
    BOOST_TEST_REQUIRE(wait_latest_applied());
    auto before = query1("SELECT string_agg(t::text, ',' ORDER BY t::text) FROM eventsshop.hotel_demand_latest t");
    BOOST_TEST_REQUIRE(before != "NULL");  // something to bring back
    {
        // As if the daemon died between a large delivery's commit and its latest update.
        auto c = connect();
        pqxx::nontransaction tx(c);
        tx.exec("DELETE FROM eventsshop.hotel_demand_latest");
        tx.exec("UPDATE eventsshop.deliveries SET latest_pending = true WHERE kind = 'hoteldemand'");
    }
    crash_and_restart();
    BOOST_TEST_REQUIRE(wait_latest_applied());
    BOOST_TEST(query1("SELECT string_agg(t::text, ',' ORDER BY t::text) FROM eventsshop.hotel_demand_latest t") == before);
}

// A row's own hotel code or city that cannot be used (structured, or too long for an index) is
// kept under extra._uncoerced, and the envelope's value must not stand in for it: row 99 is no
// hotel's figure, least of all the envelope's hotel H1 (where it used to take 10's place in
// hotel_demand_latest). Envelope before the rows and after them (the large lane's late fill), on
// both lanes; a vendor member named _uncoerced neither hides nor fakes the mark.
BOOST_FIXTURE_TEST_CASE(an_unusable_own_value_is_not_replaced_by_the_envelopes, LargeLaneReceiver) {
    const std::string rows = R"([{"hotelCode": "H1", "date": "2026-06-01", "absoluteDemand": 10},
        {"hotelCode": ["H9"], "date": "2026-06-01", "absoluteDemand": 99},
        {"hotelCode": "H2", "city": ")" + std::string(2100, 'c') + R"(", "date": "2026-06-01", "absoluteDemand": 5},
        {"date": "2026-06-02", "absoluteDemand": 7},
        {"hotelCode": [1], "_uncoerced": "x", "date": "2026-06-03", "absoluteDemand": 11},
        {"_uncoerced": {"hotelCode": 5}, "date": "2026-06-04", "absoluteDemand": 12}])";
    const std::string envelope = R"("demandId": 77, "hotelCode": "H1", "city": "Paris", "country": "FR")";
    auto check = [](Receiver& receiver, const std::string& lane) {
        BOOST_TEST_CONTEXT(lane) {
            BOOST_TEST(receiver.query1("SELECT string_agg(concat_ws('|', coalesce(hotel_code, '-'), coalesce(city, '-'), "
                                       "country, absolute_demand), ',' ORDER BY absolute_demand) FROM eventsshop.hotel_demand") ==
                       "H2|-|FR|5,H2|-|FR|5,H1|Paris|FR|7,H1|Paris|FR|7,H1|Paris|FR|10,H1|Paris|FR|10,-|Paris|FR|11,-|Paris|FR|11,"
                       "H1|Paris|FR|12,H1|Paris|FR|12,-|Paris|FR|99,-|Paris|FR|99");
            BOOST_TEST(receiver.query1("SELECT string_agg(hotel_code || '=' || absolute_demand, ',' ORDER BY hotel_code) "
                                       "FROM eventsshop.hotel_demand_latest WHERE stay_date = '2026-06-01'") == "H1=10,H2=5");
        }
    };
    for (const auto& body : {"{" + envelope + R"(, "demand": )" + rows + "}", R"({"demand": )" + rows + ", " + envelope + "}"}) {
        auto r = send("/", body);
        BOOST_TEST_REQUIRE(r.status == 202u, r.body);
    }
    BOOST_TEST_REQUIRE(wait_latest_applied());
    check(*this, "large lane");
    Receiver small;
    for (const auto& body : {"{" + envelope + R"(, "demand": )" + rows + "}", R"({"demand": )" + rows + ", " + envelope + "}"}) {
        auto r = small.send("/", body);
        BOOST_TEST_REQUIRE(r.status == 202u, r.body);
    }
    check(small, "small lane");
}

// A delivery whose hotel_demand_latest update PostgreSQL refuses (here a row as a build before
// aecc7da could store it: a city too long for the latest table's index) stays pending, but must
// not hold up the deliveries after it, nor stop reprocess, which derives it again from its body.
BOOST_FIXTURE_TEST_CASE(a_delivery_whose_latest_update_fails_holds_up_no_other, LargeLaneReceiver) {
    auto first = send("/", R"([{"hotelCode": "S1", "city": "Oslo", "date": "2026-07-01", "absoluteDemand": 1}])");
    BOOST_TEST_REQUIRE(first.status == 202u, first.body);
    BOOST_TEST_REQUIRE(wait_latest_applied());
    const auto stuck = std::to_string(json_of(first).at("delivery_id").as_int64());
    {
        std::mt19937 random(7);
        std::string city;
        for (int i = 0; i < 3000; ++i) city += static_cast<char>('a' + random() % 26);  // incompressible
        auto c = connect();
        pqxx::nontransaction tx(c);
        tx.exec("UPDATE eventsshop.hotel_demand SET city = '" + city + "' WHERE delivery_id = " + stuck);
        tx.exec("DELETE FROM eventsshop.hotel_demand_latest");
        tx.exec("UPDATE eventsshop.deliveries SET latest_pending = true WHERE id = " + stuck);
    }
    auto second = send("/", R"([{"hotelCode": "S2", "city": "Rome", "date": "2026-07-01", "absoluteDemand": 2}])");
    BOOST_TEST_REQUIRE(second.status == 202u, second.body);
    BOOST_TEST(wait_latest_has("S2"), "the second delivery's latest rows waited behind the stuck one");
    BOOST_TEST(query1("SELECT latest_pending::text FROM eventsshop.deliveries WHERE id = " + stuck) == "true");
    // Refused once, it is not tried again at every turn of the writer (each second, by default:
    // for a year-long matrix, seconds of database time each, and an error line each).
    std::this_thread::sleep_for(std::chrono::seconds(3));
    const std::string log = daemon->log();
    std::size_t refusals = 0;
    for (auto at = log.find("a delivery's rows were refused"); at != std::string::npos;
         at = log.find("a delivery's rows were refused", at + 1))
        ++refusals;
    BOOST_TEST(refusals == 1u);
    std::string out;
    // Through reprocess's large path, which brings latest up to date after each delivery it derives.
    BOOST_TEST_REQUIRE(run_daemon({"reprocess", "--kind", "hoteldemand", "--large-body-bytes", "1"}, &out) == 0, out);
    BOOST_TEST(wait_latest_applied());
    BOOST_TEST(query1("SELECT string_agg(hotel_code || '|' || city, ',' ORDER BY hotel_code) "
                      "FROM eventsshop.hotel_demand_latest") == "S1|Oslo,S2|Rome");
}

// What a trigger raises over one delivery's latest rows (P0001) is that delivery's refusal too:
// the deliveries after it go on.
BOOST_FIXTURE_TEST_CASE(a_trigger_refusing_one_deliverys_latest_rows_holds_up_no_other, LargeLaneReceiver) {
    {
        auto c = connect();
        pqxx::nontransaction tx(c);
        tx.exec(R"(CREATE FUNCTION public.esr_refuse_t1() RETURNS trigger LANGUAGE plpgsql AS $$
                   BEGIN IF NEW.hotel_code = 'T1' THEN RAISE EXCEPTION 'no T1 here'; END IF; RETURN NEW; END $$;
                   CREATE TRIGGER esr_refuse_t1 BEFORE INSERT OR UPDATE ON eventsshop.hotel_demand_latest
                   FOR EACH ROW EXECUTE FUNCTION public.esr_refuse_t1())");
    }
    for (const char* hotel : {"T1", "T2"}) {
        auto r = send("/", std::string(R"([{"hotelCode": ")") + hotel + R"(", "date": "2026-09-01", "absoluteDemand": 1}])");
        BOOST_TEST_REQUIRE(r.status == 202u, r.body);
    }
    BOOST_TEST(wait_latest_has("T2"), "T2's latest rows waited behind T1's");
    BOOST_TEST(query1("SELECT count(*) FROM eventsshop.deliveries WHERE latest_pending") == "1");
}

// Waiting on a lock (another instance's long update, a REINDEX) past --statement-timeout's lock
// timeout is the database's state, not the delivery's: it is tried again at the next turn, not
// put off for a minute like rows the latest table refuses.
BOOST_AUTO_TEST_CASE(a_lock_timeout_on_the_latest_update_is_tried_again_at_once) {
    Receiver receiver({"--large-body-bytes", "1", "--statement-timeout", "1s"});
    {
        auto c = receiver.connect();
        pqxx::work lock(c);
        lock.exec("LOCK TABLE eventsshop.hotel_demand_latest IN SHARE MODE");
        auto r = receiver.send("/", R"([{"hotelCode": "L1", "date": "2026-08-01", "absoluteDemand": 3}])");
        BOOST_TEST_REQUIRE(r.status == 202u, r.body);
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past the lock timeout, once
    }  // released
    BOOST_TEST(receiver.wait_latest_applied(), "the delivery was put off");
    BOOST_TEST(receiver.daemon->log().find("rows were refused") == std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(envelope_members_after_the_rows_still_reach_them, LargeLaneReceiver) {
    auto r = send("/", R"({"demand": [{"hotelCode": 7, "date": "2026-05-01", "absoluteDemand": 5}], "demandId": 4711, "city": "Oslo"})");
    BOOST_TEST_REQUIRE(r.status == 202u, r.body);
    BOOST_TEST(query1("SELECT demand_id || '|' || city FROM eventsshop.hotel_demand WHERE hotel_code = '7'") == "4711|Oslo");
}

BOOST_AUTO_TEST_SUITE_END()
