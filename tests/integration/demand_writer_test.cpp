// hotel_demand_latest has one writer (src/db/demand_writer.cpp, write_demand_latest.sql): the small
// lane, the large lane and reprocess along either of its paths must leave the same table for the
// same delivery, even where a delivery names the same hotel and night twice.
#include "esr/db/binary_copy.hpp"
#include "world.hpp"

#include <boost/test/unit_test.hpp>

#include <pqxx/nontransaction>
#include <pqxx/transaction>

#include <thread>

using namespace esr::test;

namespace {

// Bodies from this size take the large lane (parsed streaming, rows through COPY).
constexpr std::size_t large_from = 2000;

// Hotel H1, night 2026-06-01 twice. The first row names no hotel: the envelope does, after the
// rows, so the large lane writes it without one and fills it in after the COPY, an UPDATE that
// moves it physically after the second row (which names all four envelope values, so stays put).
// The old large lane took the physically last row (the first, 10); the small lane the last in
// the body (the second, 30).
const std::string duplicate_night = R"({"demand": [
  {"date": "2026-06-01", "absoluteDemand": 10, "relativeDemand": 20, "eventsRegistered": 1, "hotelName": "First"},
  {"hotelCode": "H1", "demandId": 77, "city": "Oslo", "country": "Norway", "date": "2026-06-01",
   "absoluteDemand": 30, "relativeDemand": 40, "eventsRegistered": 2, "hotelName": "Second"},
  {"hotelCode": "H1", "demandId": 77, "city": "Oslo", "country": "Norway", "date": "2026-06-02",
   "absoluteDemand": 5, "hotelName": "Third"}
], "hotelCode": "H1", "demandId": 77, "city": "Oslo", "country": "Norway"})";

struct Receiver : Site {
    Receiver() : Site({"--large-body-bytes", std::to_string(large_from)}) {}

    std::string query1(const std::string& sql) { return pg.query1(sql); }
    void exec(const std::string& sql) { pg.exec(sql); }
    // hotel_demand_latest without the columns that name the delivery and its time.
    std::string latest() {
        return query1("SELECT string_agg(row(hotel_code, stay_date, demand_id, hotel_name, city, country, "
                      "absolute_demand, relative_demand, events_registered)::text, E'\\n' ORDER BY hotel_code, "
                      "stay_date) FROM eventsshop.hotel_demand_latest");
    }
    bool latest_applied() {
        for (int i = 0; i < 100; ++i) {
            if (query1("SELECT count(*) FROM eventsshop.deliveries WHERE latest_pending") == "0") return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return false;
    }
    // A delivery of its own: the typed tables and deliveries emptied first.
    void forget_everything() {
        exec("TRUNCATE eventsshop.deliveries, eventsshop.hotel_demand, eventsshop.hotel_demand_latest, "
             "eventsshop.demand_event_records, eventsshop.events, eventsshop.event_impacts");
    }
    int reprocess(std::size_t large_body_bytes, std::string* out) {
        return run({ESR_DAEMON_PATH, "reprocess", "--large-body-bytes", std::to_string(large_body_bytes)}, env, out);
    }
};

const std::string expected_latest = "(H1,2026-06-01,77,Second,Oslo,Norway,30,40,2)\n"
                                    "(H1,2026-06-02,77,Third,Oslo,Norway,5,,)";

}  // namespace

BOOST_AUTO_TEST_SUITE(demand_writer)

BOOST_FIXTURE_TEST_CASE(small_lane_large_lane_and_reprocess_choose_the_same_newest_row, Receiver) {
    BOOST_TEST_REQUIRE(duplicate_night.size() < large_from);
    auto r = post("/hoteldemand", duplicate_night);
    BOOST_TEST_REQUIRE(r.status == 202u, r.body);
    BOOST_TEST(query1("SELECT count(*) FROM eventsshop.hotel_demand") == "3");
    const std::string small_lane = latest();
    BOOST_TEST(small_lane == expected_latest);

    // The same rows, padded past the large lane's threshold (white space before the document).
    forget_everything();
    const std::string padded = std::string(large_from, ' ') + duplicate_night;
    r = post("/hoteldemand", padded);
    BOOST_TEST_REQUIRE(r.status == 202u, r.body);
    BOOST_TEST_REQUIRE(latest_applied());
    BOOST_TEST(query1("SELECT count(*) FROM eventsshop.hotel_demand WHERE hotel_code = 'H1'") == "3");
    BOOST_TEST(latest() == small_lane);

    // Reprocess, deriving the stored body as a small one, then streaming as the large lane does.
    for (std::size_t threshold : {std::size_t(60000), std::size_t(1)}) {
        BOOST_TEST_CONTEXT("reprocess --large-body-bytes " << threshold) {
            exec("TRUNCATE eventsshop.hotel_demand_latest");
            std::string out;
            BOOST_TEST_REQUIRE(reprocess(threshold, &out) == 0, out);
            BOOST_TEST(query1("SELECT count(*) FROM eventsshop.deliveries WHERE latest_pending") == "0");
            BOOST_TEST(latest() == small_lane);
        }
    }
}

// What COPY's text format gives a meaning to (tab, newline, carriage return, backslash, \N, \.),
// numbers and dates at the edge of their types, JSON in extra: the large lane's binary COPY must
// store what the small lane's INSERT stores, character for character and bit for bit, each row
// observed at its delivery's received_at to the microsecond.
BOOST_FIXTURE_TEST_CASE(every_character_and_number_is_stored_alike_by_copy_and_by_insert, Receiver) {
    const std::string body = R"({"demand": [
      {"hotelCode": "T\tab", "hotelName": "New\nline and\rreturn", "city": "Back\\slash\\", "country": "\\N",
       "date": "2026-06-01", "absoluteDemand": 9223372036854775807, "relativeDemand": 0.1, "eventsRegistered": -3,
       "demandId": -9223372036854775807, "note": "\\.", "more": {"q": "\"quoted\"\t\\", "u": "\u00e9\u2713\ud83d\ude00"}},
      {"hotelCode": "\\.", "hotelName": "\u00c5se \u2713", "city": "\\\\N", "country": "a\\tb",
       "date": "2026-06-02", "absoluteDemand": -1, "relativeDemand": 123456789.12345679, "eventsRegistered": 0},
      {"hotelCode": "H3", "date": "2026-06-03", "relativeDemand": 1e-300, "absoluteDemand": 0,
       "hotelName": "\u0001\u0008\u000b\u000c\u007f \u00e9\\t\u00e9\\"},
      {"hotelCode": "H4", "date": "2026-06-04", "relativeDemand": -0.0, "hotelName": ""},
      {"hotelCode": "H5", "date": "2026-06-05", "relativeDemand": 1.7976931348623157e308, "extraField": [1, 2.5, null]},
      {"hotelCode": "H6", "date": "0001-01-01", "eventsRegistered": 2147483647},
      {"hotelCode": "H7", "date": "9999-12-31", "eventsRegistered": -2147483648},
      {"hotelCode": "H8", "date": "2000-02-29", "absoluteDemand": 8}, {"hotelCode": "H9", "date": "1999-12-31", "absoluteDemand": 9},
      {"hotelCode": "H10", "date": "2000-01-01", "absoluteDemand": 10, "extraField": {"nested": {"\u00e9": [true, false, null, "x"]}}}
    ]})";
    const std::string rows_sql =
        "SELECT string_agg(row(hotel_code, hotel_name, city, country, stay_date, demand_id, absolute_demand, "
        "relative_demand::text, float8send(relative_demand), events_registered, extra::text)::text, E'\\n' "
        "ORDER BY stay_date) FROM eventsshop.hotel_demand";
    BOOST_TEST_REQUIRE(body.size() < large_from);
    auto r = post("/hoteldemand", body);
    BOOST_TEST_REQUIRE(r.status == 202u, r.body);
    const std::string small_lane = query1(rows_sql);
    BOOST_TEST(query1("SELECT count(*) FROM eventsshop.hotel_demand") == "10");
    BOOST_TEST(query1("SELECT hotel_name FROM eventsshop.hotel_demand WHERE stay_date = '2026-06-01'") ==
               "New\nline and\rreturn");
    BOOST_TEST(query1("SELECT city || '|' || country FROM eventsshop.hotel_demand WHERE stay_date = '2026-06-01'") ==
               "Back\\slash\\|\\N");

    forget_everything();
    r = post("/hoteldemand", std::string(large_from, ' ') + body);
    BOOST_TEST_REQUIRE(r.status == 202u, r.body);
    BOOST_TEST(query1(rows_sql) == small_lane);
    BOOST_TEST(query1("SELECT count(*) FROM eventsshop.hotel_demand h JOIN eventsshop.deliveries d "
                      "ON d.id = h.delivery_id AND d.received_at = h.observed_at") == "10");
}

// The bodies are UTF-8 (RFC 8259), and so is every text the daemon sends PostgreSQL: a
// client_encoding named elsewhere (PGCLIENTENCODING, the URL, ALTER ROLE ... SET) must not make
// PostgreSQL convert them from another encoding, on either lane.
BOOST_FIXTURE_TEST_CASE(text_is_stored_as_sent_whatever_client_encoding_is_named_elsewhere, Receiver) {
    env["PGCLIENTENCODING"] = "LATIN1";
    crash_and_restart();
    const std::string body = R"({"demand": [{"hotelCode": "H1", "hotelName": "\u00c5se \u2713 caf\u00e9",
      "city": "\u6771\u4eac\\.", "date": "2026-06-01", "absoluteDemand": 1, "note": "\u00e9"}]})";
    for (std::size_t padding : {std::size_t(0), large_from}) {
        BOOST_TEST_CONTEXT((padding ? "large lane" : "small lane")) {
            forget_everything();
            auto r = post("/hoteldemand", std::string(padding, ' ') + body);
            BOOST_TEST_REQUIRE(r.status == 202u, r.body);
            BOOST_TEST(query1("SELECT hotel_name || '|' || city || '|' || (extra->>'note') FROM eventsshop.hotel_demand") ==
                       "\u00c5se \u2713 caf\u00e9|\u6771\u4eac\\.|\u00e9");
        }
    }
}

// Each delivery's received_at goes back to PostgreSQL as text (observed_at of its demand rows, on
// both lanes): a DateStyle and TimeZone named elsewhere (PGDATESTYLE and PGTZ, the URL, ALTER ROLE
// ... SET) must not change what that text reads back as. In the Postgres style India's time zone
// is written "IST", which PostgreSQL reads back as Israel's: three and a half hours off.
BOOST_FIXTURE_TEST_CASE(received_at_reads_back_exactly_whatever_datestyle_and_timezone_are_named_elsewhere,
                        Receiver) {
    env["PGDATESTYLE"] = "Postgres";
    env["PGTZ"] = "Asia/Kolkata";
    crash_and_restart();
    for (std::size_t padding : {std::size_t(0), large_from}) {
        BOOST_TEST_CONTEXT((padding ? "large lane" : "small lane")) {
            forget_everything();
            auto r = post("/hoteldemand", std::string(padding, ' ') + duplicate_night);
            BOOST_TEST_REQUIRE(r.status == 202u, r.body);
            BOOST_TEST_REQUIRE(latest_applied());
            BOOST_TEST(query1("SELECT count(*) FROM eventsshop.hotel_demand h JOIN eventsshop.deliveries d "
                              "ON d.id = h.delivery_id AND d.received_at = h.observed_at") == "3");
            BOOST_TEST(query1("SELECT count(*) FROM eventsshop.hotel_demand_latest l JOIN eventsshop.deliveries d "
                              "ON d.id = l.delivery_id AND d.received_at = l.observed_at") == "2");
        }
    }
}

// libpq takes a COPY's data in pieces whose size is an int, and takes a size that is not positive
// as nothing to send (and says it sent it). Rows gathered into more than 2 GiB (a row of two
// fields of 1.1 GB each: the streaming parser bounds strings, not arrays of them) must fail the
// COPY, not vanish with the rows before them while the COPY and its transaction succeed.
BOOST_FIXTURE_TEST_CASE(rows_over_2_gib_fail_the_copy_instead_of_vanishing, Receiver) {
    pqxx::connection c(pg.url());
    pqxx::work tx(c);
    tx.exec("CREATE TEMP TABLE copied (n bigint, a text, b text)");
    const std::string big(1'100'000'000, 'x');  // each field under PostgreSQL's 1 GB, the row over 2 GiB
    esr::db::BinaryCopy copy(tx, "copied", {"n", "a", "b"});
    auto small_rows = [&](int from, int to) {
        for (int n = from; n < to; ++n) {
            copy.begin_row(3);
            copy.add_bigint(n);
            copy.add_text("a small row");
            copy.add_null();
        }
    };
    small_rows(0, 5000);  // over the 64 KiB the rows gather before each send
    copy.begin_row(3);
    copy.add_bigint(-1);
    copy.add_text(big);
    copy.add_text(big);
    small_rows(5000, 5010);
    try {
        copy.complete();
        BOOST_ERROR("the COPY succeeded; rows copied: " + tx.exec("SELECT count(*) FROM copied")[0][0].as<std::string>());
    } catch (const pqxx::sql_error& e) {
        BOOST_TEST(e.sqlstate() == "54000", e.what());  // PostgreSQL's limit on a field, from PostgreSQL
    }
}

BOOST_AUTO_TEST_SUITE_END()
