#include "payload_test_support.hpp"


using namespace esr;
using namespace esr::payload;
using namespace esr::payload::test;

// Which kind a body is, by the shape of its records, and what the path may say.
BOOST_AUTO_TEST_SUITE(classification)

BOOST_AUTO_TEST_CASE(envelopes_of_every_form) {
    const std::string e = R"({"eventId": 7, "eventName": "X"})";
    for (const std::string& body : {e, "[" + e + "]", R"({"events": [)" + e + "]}", R"({"data": [)" + e + "]}",
                                   R"({"results": [)" + e + R"(], "pageInfo": {"totalRecords": 1}})",
                                   R"({"data": {"events": [)" + e + "]}}", R"({"payload": )" + e + "}"}) {
        BOOST_TEST_CONTEXT(body) {
            auto x = of(body);
            BOOST_TEST((x.kind == Kind::eventsinfo));
            BOOST_REQUIRE(x.events.size() == 1u);
            BOOST_TEST(x.events[0].event_id == 7);
        }
    }
}

// Records are looked for within a few levels of envelope; deeper, a body is of no known kind (and
// stays in the raw body), whichever extractor reads it. Demand rows are found at any depth.
BOOST_AUTO_TEST_CASE(deep_nesting_is_tolerated) {
    std::string deep = std::string(200, '[') + R"({"eventId": 5})" + std::string(200, ']');
    auto x = of(deep);
    BOOST_TEST(x.events.size() <= 1u);
    BOOST_TEST((x.kind == Kind::unclassified));
    BOOST_TEST(x.record_count() == 0u);
    auto streamed = extract_body(deep, std::nullopt);
    BOOST_REQUIRE(std::holds_alternative<Extraction>(streamed));
    BOOST_TEST((std::get<Extraction>(streamed).kind == Kind::unclassified));
    BOOST_TEST(std::get<Extraction>(streamed).record_count() == 0u);

    std::string deep_row = std::string(200, '[') + R"({"hotelCode": "H", "absoluteDemand": 5})" + std::string(200, ']');
    auto d = of(deep_row);
    BOOST_TEST((d.kind == Kind::hoteldemand));
    BOOST_REQUIRE(d.demand.size() == 1u);
    BOOST_TEST(*d.demand[0].absolute_demand == 5);
    auto streamed_row = extract_body(deep_row, std::nullopt);
    BOOST_REQUIRE(std::holds_alternative<Extraction>(streamed_row));
    BOOST_TEST((std::get<Extraction>(streamed_row).demand == d.demand));
}

BOOST_AUTO_TEST_CASE(impact_score_per_date_means_eventimpact) {
    auto x = of(R"({"data": [{"event_id": 3, "impact_date": "2026-05-01", "impact_score": 55.5}]})");
    BOOST_TEST((x.kind == Kind::eventimpact));
    BOOST_REQUIRE(x.impacts.size() == 1u);
    BOOST_TEST(*x.impacts[0].impact_score == 55.5);
}

BOOST_AUTO_TEST_CASE(demand_figures_mean_hoteldemand_whatever_the_wrapper) {
    auto x = of(R"([{"hotel_code": "H1", "stay_date": "2026-01-01", "relative_demand": "50"}])");
    BOOST_TEST((x.kind == Kind::hoteldemand));
    BOOST_TEST(*x.demand[0].hotel_code == "H1");
    BOOST_TEST(*x.demand[0].relative_demand == 50);
}

BOOST_AUTO_TEST_CASE(declared_kind_must_agree_with_a_recognisable_shape) {
    auto demand = extract(parsed(fixture("hoteldemand-hotel.json")), Kind::eventsinfo);
    BOOST_REQUIRE(std::holds_alternative<KindMismatch>(demand));
    BOOST_TEST((std::get<KindMismatch>(demand).found == Kind::hoteldemand));
    BOOST_TEST((std::get<KindMismatch>(demand).declared == Kind::eventsinfo));
    BOOST_TEST(std::get<KindMismatch>(demand).message ==
               "the body looks like hoteldemand (5 records with demand figures (absoluteDemand, relativeDemand, "
               "eventsRegistered)), not eventsinfo");
    auto events = extract(parsed(fixture("eventsinfo-object.json")), Kind::eventimpact);
    BOOST_REQUIRE(std::holds_alternative<KindMismatch>(events));
    BOOST_TEST((std::get<KindMismatch>(events).found == Kind::eventsinfo));
    BOOST_TEST((of(fixture("eventsinfo-object.json"), Kind::eventsinfo).kind == Kind::eventsinfo));
    // Unrecognisable: the path decides.
    auto x = of(fixture("status-notification.json"), Kind::hoteldemand);
    BOOST_TEST((x.kind == Kind::hoteldemand));
    BOOST_TEST(x.record_count() == 0u);
}

BOOST_AUTO_TEST_CASE(unrecognisable_json_is_unclassified) {
    for (std::string body : {"42", "\"text\"", "null", "[]", "{}", R"({"queueid": 1, "statuscode": 2})",
                             R"([1, 2, 3])", R"({"a": {"b": [{"c": 1}]}})"}) {
        BOOST_TEST_CONTEXT(body) { BOOST_TEST((of(body).kind == Kind::unclassified)); }
    }
}


BOOST_AUTO_TEST_SUITE_END()
