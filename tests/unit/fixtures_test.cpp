#include "payload_test_support.hpp"


using namespace esr;
using namespace esr::payload;
using namespace esr::payload::test;

// Each sample delivery (tests/fixtures) down to its typed rows.
BOOST_AUTO_TEST_SUITE(fixtures)

BOOST_AUTO_TEST_CASE(eventsinfo_object) {
    auto x = of(fixture("eventsinfo-object.json"));
    BOOST_TEST((x.kind == Kind::eventsinfo));
    BOOST_REQUIRE(x.events.size() == 1u);
    const auto& e = x.events[0];
    BOOST_TEST(e.event_id == 3531599);
    BOOST_TEST(*e.name == "Argentino de Quilmes vs. CS Dock Sud");
    BOOST_TEST(*e.category == "1");
    BOOST_TEST(*e.sub_category == "56");
    BOOST_TEST(*e.start_date == "2025-08-02");
    BOOST_TEST(*e.estimated_attendee == "1000-5000");
    BOOST_TEST((*e.attendee_min == 1000 && *e.attendee_max == 5000));
    BOOST_TEST(*e.zip == "B1878");
    BOOST_TEST(*e.lat == -34.7269);
    BOOST_TEST(*e.lng == -58.2562);
    BOOST_TEST(*e.status_code == 1);
    BOOST_TEST(e.extra.empty());
    BOOST_TEST(x.record_count() == 1u);
}

BOOST_AUTO_TEST_CASE(eventsinfo_envelope) {
    auto x = of(fixture("eventsinfo-envelope.json"));
    BOOST_TEST((x.kind == Kind::eventsinfo));
    BOOST_REQUIRE(x.events.size() == 3u);
    const auto& paris = event(x, 990017);
    BOOST_TEST(!paris.description);  // null
    BOOST_TEST(*paris.estimated_attendee == "20000");
    BOOST_TEST((*paris.attendee_min == 20000 && *paris.attendee_max == 20000));
    BOOST_TEST(*paris.lat == 48.8674);  // sent as a number
    BOOST_TEST(*paris.address == "");
    BOOST_TEST(*paris.state == "Île-de-France");
    BOOST_TEST(*paris.status_code == 5);
    BOOST_TEST(*event(x, 884201).zip == "08908");
    BOOST_TEST(*event(x, 12).lat == 34.2423);  // sent as a string
}

BOOST_AUTO_TEST_CASE(eventsinfo_array) {
    auto x = of(fixture("eventsinfo-array.json"));
    BOOST_TEST((x.kind == Kind::eventsinfo));
    BOOST_REQUIRE(x.events.size() == 2u);
    const auto& holiday = event(x, 502);
    BOOST_TEST(!holiday.address);
    BOOST_TEST(!holiday.zip);
    BOOST_TEST(!holiday.lat);
    BOOST_TEST(!holiday.lng);
    BOOST_TEST(*holiday.status_code == 4);
    BOOST_TEST((*holiday.attendee_min == 0 && *holiday.attendee_max == 0));
}

BOOST_AUTO_TEST_CASE(eventimpact_object) {
    auto x = of(fixture("eventimpact-object.json"));
    BOOST_TEST((x.kind == Kind::eventimpact));
    BOOST_REQUIRE(x.events.size() == 1u);
    BOOST_TEST(x.events[0].event_id == 884201);
    BOOST_TEST(*x.events[0].venue == "Fira Gran Via");
    BOOST_TEST(x.events[0].extra.empty());  // the impact series is not "unmapped"
    BOOST_REQUIRE(x.impacts.size() == 5u);
    BOOST_TEST(x.impacts[0].impact_date == "2026-03-01");
    BOOST_TEST(*x.impacts[0].impact_score == 41);
    BOOST_TEST(x.impacts[2].impact_date == "2026-03-03");
    BOOST_TEST(*x.impacts[2].impact_score == 97);
}

BOOST_AUTO_TEST_CASE(eventimpact_rows) {
    auto x = of(fixture("eventimpact-rows.json"));
    BOOST_TEST((x.kind == Kind::eventimpact));
    BOOST_REQUIRE(x.impacts.size() == 2u);
    BOOST_TEST(x.impacts[1].event_id == 3531599);
    BOOST_TEST(*x.impacts[1].impact_score == 34);  // sent as a string
    BOOST_REQUIRE(x.events.size() == 2u);
    BOOST_TEST(*event(x, 12).name == "The Simon and Garfunkel Story");
    BOOST_TEST(!event(x, 12).venue);  // unknown here: must not erase what eventsinfo said
    BOOST_TEST(event(x, 12).extra.empty());
}

BOOST_AUTO_TEST_CASE(hoteldemand_hotel) {
    auto x = of(fixture("hoteldemand-hotel.json"));
    BOOST_TEST((x.kind == Kind::hoteldemand));
    BOOST_REQUIRE(x.demand.size() == 5u);
    for (const auto& d : x.demand) {
        BOOST_TEST(*d.hotel_code == "12345");
        BOOST_TEST(*d.demand_id == 612);
        BOOST_TEST(*d.city == "Barcelona");
    }
    BOOST_TEST(*x.demand[0].stay_date == "2026-03-01");
    BOOST_TEST(*x.demand[0].absolute_demand == 830);
    BOOST_TEST(*x.demand[0].relative_demand == 61);
    BOOST_TEST(*x.demand[0].events_registered == 2);
    BOOST_TEST(x.events.empty());
}

BOOST_AUTO_TEST_CASE(hoteldemand_city) {
    auto x = of(fixture("hoteldemand-city.json"));
    BOOST_TEST((x.kind == Kind::hoteldemand));
    BOOST_REQUIRE(x.demand.size() == 4u);
    BOOST_TEST(*x.demand[3].hotel_code == "22871");
    BOOST_TEST(*x.demand[3].absolute_demand == 702);  // strings coerced
    BOOST_TEST(*x.demand[3].relative_demand == 78);
    BOOST_TEST(*x.demand[3].events_registered == 5);
    BOOST_TEST(*x.demand[3].demand_id == 613);
    BOOST_REQUIRE(x.demand_events.size() == 2u);
    BOOST_TEST(*x.demand_events[1].event_date == "2026-03-03");
    BOOST_TEST(*x.demand_events[1].event_id == 884201);
    BOOST_TEST(*x.demand_events[1].demand_id == 613);
    BOOST_TEST(*x.demand_events[1].attendee_min == 50000);
    BOOST_REQUIRE(x.events.size() == 1u);  // the event, merged once
    BOOST_TEST(*x.events[0].venue == "Fira Gran Via");
    BOOST_TEST(!x.events[0].start_date);  // an occurrence date is not the start date
}

BOOST_AUTO_TEST_CASE(status_notification_is_unclassified) {
    auto x = of(fixture("status-notification.json"));
    BOOST_TEST((x.kind == Kind::unclassified));
    BOOST_TEST(x.record_count() == 0u);
    BOOST_TEST(!x.reason.empty());
}


BOOST_AUTO_TEST_SUITE_END()
