#include "payload_test_support.hpp"

#include <cmath>


using namespace esr;
using namespace esr::payload;
using namespace esr::payload::test;

// The coercions on their own: keys, dates, attendee ranges, text PostgreSQL accepts.
BOOST_AUTO_TEST_SUITE(coercion)

BOOST_AUTO_TEST_CASE(keys_match_across_spellings) {
    for (auto k : {"eventId", "eventid", "EventId", "event_id", "EVENT-ID"}) BOOST_TEST(normalize_key(k) == "eventid");
}

// Found by review: -0 and 0 are equal in SQL, so two rows differing only so tied in
// hotel_demand_latest's choice, and their order decided which bit pattern was kept.
BOOST_AUTO_TEST_CASE(negative_zero_is_zero) {
    auto x = of(R"([{"hotelCode": "H", "date": "2024-01-01", "relativeDemand": -0.0},)"
                R"( {"hotelCode": "H", "date": "2024-01-02", "relativeDemand": "-0"}])");
    BOOST_REQUIRE(x.demand.size() == 2u);
    for (const auto& row : x.demand) {
        BOOST_REQUIRE(row.relative_demand.has_value());
        BOOST_TEST(!std::signbit(*row.relative_demand));
    }
}

// An indexed text column (events.city, a demand row's hotel code and city, an envelope's) takes
// at most 2048 bytes: a btree entry holds about 2.7 KB and a longer value would fail the statement.
// Past that the value is kept under extra._uncoerced (the demand envelope's stays in the body).
BOOST_AUTO_TEST_CASE(text_for_an_indexed_column_has_a_length_limit) {
    const std::string fits(2048, 'c'), too_long(2049, 'c');
    auto x = of(R"([{"eventId": 1, "city": ")" + fits + R"("}, {"eventId": 2, "city": ")" + too_long + R"("}])");
    BOOST_TEST(*event(x, 1).city == fits);
    BOOST_TEST(!event(x, 2).city);
    BOOST_TEST(event(x, 2).extra.at("_uncoerced").at("city").as_string() == too_long);
    auto d = of(R"({"hotelCode": ")" + too_long + R"(", "city": ")" + too_long + R"(", "demand": [)"
                R"({"date": "2026-01-01", "absoluteDemand": 1},)"
                R"({"hotelCode": ")" + too_long + R"(", "city": ")" + fits + R"(", "date": "2026-01-02", "absoluteDemand": 2}]})");
    BOOST_REQUIRE(d.demand.size() == 2u);
    BOOST_TEST(!d.demand[0].hotel_code);
    BOOST_TEST(!d.demand[0].city);
    BOOST_TEST(!d.demand[1].hotel_code);
    BOOST_TEST(*d.demand[1].city == fits);
    BOOST_TEST(d.demand[1].extra.at("_uncoerced").at("hotelCode").as_string() == too_long);
}

BOOST_AUTO_TEST_CASE(dates) {
    BOOST_TEST(*coerce_date("2026-03-02") == "2026-03-02");
    BOOST_TEST(*coerce_date("2026-03-02T10:15:00Z") == "2026-03-02");
    BOOST_TEST(*coerce_date("2026-03-02 10:15") == "2026-03-02");
    BOOST_TEST(*coerce_date("2024-02-29") == "2024-02-29");
    BOOST_TEST(!coerce_date("2026-02-29"));
    BOOST_TEST(!coerce_date("2026-13-01"));
    BOOST_TEST(!coerce_date("02/03/2026"));
    BOOST_TEST(!coerce_date("2026-03-02x"));
}

BOOST_AUTO_TEST_CASE(attendee_ranges) {
    auto r = parse_attendee_range("100-500");
    BOOST_TEST((r->min == 100 && r->max == 500));
    r = parse_attendee_range("<500");
    BOOST_TEST((!r->min && r->max == 500));
    r = parse_attendee_range(">50000");
    BOOST_TEST((r->min == 50000 && !r->max));
    r = parse_attendee_range("500");
    BOOST_TEST((r->min == 500 && r->max == 500));
    r = parse_attendee_range("1,000-5,000");
    BOOST_TEST((r->min == 1000 && r->max == 5000));
    BOOST_TEST(!parse_attendee_range("lots"));
    BOOST_TEST(!parse_attendee_range("500-100"));
}

BOOST_AUTO_TEST_CASE(clean_text_makes_valid_utf8_without_nul) {
    BOOST_TEST(clean_text("Île-de-France") == "Île-de-France");
    BOOST_TEST(clean_text(std::string("a\0b", 3)) == "a\xEF\xBF\xBD" "b");
    BOOST_TEST(clean_text("a\xff") == "a\xEF\xBF\xBD");
    BOOST_TEST(clean_text("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
    BOOST_TEST(clean_text("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
    BOOST_TEST(clean_text("\xF0\x9F\x8E\x89") == "\xF0\x9F\x8E\x89");
    // Plain runs between what is replaced or kept a character at a time.
    BOOST_TEST(clean_text(std::string("\0\0", 2)) == "\xEF\xBF\xBD\xEF\xBF\xBD");
    BOOST_TEST(clean_text("del \x7F, tab\t") == "del \x7F, tab\t");
    BOOST_TEST(clean_text(std::string("x\xE2\x9C\x93y\xFFz\0", 8)) == "x\xE2\x9C\x93y\xEF\xBF\xBDz\xEF\xBF\xBD");
    BOOST_TEST(clean_text("").empty());
}


BOOST_AUTO_TEST_SUITE_END()
