#include "payload_test_support.hpp"

#include <boost/json/serialize.hpp>

using namespace esr;
using namespace esr::payload;
using namespace esr::payload::test;

// Sent fields into typed columns: spellings, coercions, what goes to extra.
BOOST_AUTO_TEST_SUITE(vendor_fields)

BOOST_AUTO_TEST_CASE(key_spellings_and_string_numbers) {
    auto x = of(R"([{"event_id": "42", "EVENT_NAME": "A", "Start_Date": "2026-01-02T00:00:00Z", "LATITUDE": " 1.5 ",
                     "longitude": -2, "event_status_code": "3", "estimated_attendee": 100}])");
    BOOST_REQUIRE(x.events.size() == 1u);
    const auto& e = x.events[0];
    BOOST_TEST(e.event_id == 42);
    BOOST_TEST(*e.name == "A");
    BOOST_TEST(*e.start_date == "2026-01-02");
    BOOST_TEST(*e.lat == 1.5);
    BOOST_TEST(*e.lng == -2);
    BOOST_TEST(*e.status_code == 3);
    BOOST_TEST(*e.estimated_attendee == "100");
}

BOOST_AUTO_TEST_CASE(uncoercible_values_are_null_and_noted_in_extra) {
    auto x = of(R"({"eventId": 1, "lat": "north", "startDate": "soon", "eventStatusCode": [1], "venue": {"a": 1}})");
    const auto& e = x.events[0];
    BOOST_TEST(!e.lat);
    BOOST_TEST(!e.start_date);
    BOOST_TEST(!e.status_code);
    BOOST_TEST(!e.venue);
    const auto& bad = e.extra.at("_uncoerced").as_object();
    BOOST_TEST(bad.at("lat").as_string() == "north");
    BOOST_TEST(bad.at("startDate").as_string() == "soon");
    BOOST_TEST(bad.at("eventStatusCode").is_array());
    BOOST_TEST(bad.at("venue").is_object());
}

BOOST_AUTO_TEST_CASE(unknown_fields_go_to_extra_and_nulls_are_absent) {
    auto x = of(R"({"eventId": 1, "eventName": null, "ticketUrl": "https://t", "tags": ["a"], "city": null})");
    const auto& e = x.events[0];
    BOOST_TEST(!e.name);
    BOOST_TEST(!e.city);
    BOOST_TEST(e.extra.at("ticketUrl").as_string() == "https://t");
    BOOST_TEST(e.extra.at("tags").is_array());
    BOOST_TEST(!e.extra.contains("_uncoerced"));
}

BOOST_AUTO_TEST_CASE(nul_and_bad_utf8_are_cleaned_in_typed_values_only) {
    auto x = of("{\"eventId\": 1, \"eventName\": \"a\\u0000b\", \"venue\": \"caf\xe9\", \"note\": \"x\\u0000\"}");
    const auto& e = x.events[0];
    BOOST_TEST(*e.name == "a\xEF\xBF\xBD" "b");
    BOOST_TEST(*e.venue == "caf\xEF\xBF\xBD");
    BOOST_TEST(e.extra.at("note").as_string() == "x\xEF\xBF\xBD");
}

BOOST_AUTO_TEST_CASE(huge_numbers) {
    auto x = of(R"([{"eventId": 123456789012345678901234567890, "eventName": "too big"},
                    {"eventId": 9223372036854775807, "lat": 1e400, "big": 1e400}])");
    BOOST_REQUIRE(x.events.size() == 1u);  // an id beyond 64 bits has no row
    BOOST_TEST(x.events[0].event_id == 9223372036854775807LL);
    BOOST_TEST(!x.events[0].lat);
    BOOST_TEST(boost::json::serialize(x.events[0].extra).find("inf") == std::string::npos);
}

// Issue 11, case 2: a value beyond a typed column's range made the statement fail, for ever on the
// spool's drain. It is NULL in its column and kept, as sent, like any value that does not fit.
BOOST_AUTO_TEST_CASE(integers_beyond_a_32_bit_column_are_null_and_kept_in_extra) {
    auto x = of(R"({"eventId": 1, "eventStatusCode": 3000000000})");
    BOOST_TEST(!x.events[0].status_code);
    BOOST_TEST(x.events[0].extra.at("_uncoerced").at("eventStatusCode").as_int64() == 3000000000LL);
    auto fits = of(R"({"eventId": 2, "eventStatusCode": -2147483648})");
    BOOST_TEST(*fits.events[0].status_code == -2147483648LL);

    auto d = of(R"({"hotelCode": "H", "date": "2026-01-02", "absoluteDemand": 5000000000, "eventsRegistered": "2147483648"})");
    BOOST_REQUIRE(d.demand.size() == 1u);
    BOOST_TEST(*d.demand[0].absolute_demand == 5000000000LL);  // a bigint column
    BOOST_TEST(!d.demand[0].events_registered);
    BOOST_TEST(d.demand[0].extra.at("_uncoerced").at("eventsRegistered").as_string() == "2147483648");
}

BOOST_AUTO_TEST_CASE(same_event_twice_in_one_body_is_merged) {
    auto x = of(R"([{"eventId": 1, "venue": "V", "city": "A"}, {"eventId": 1, "city": "B"}])");
    BOOST_REQUIRE(x.events.size() == 1u);
    BOOST_TEST(*x.events[0].venue == "V");
    BOOST_TEST(*x.events[0].city == "B");
}


BOOST_AUTO_TEST_SUITE_END()
