#include "esr/db/latest_retries.hpp"

#include <boost/test/unit_test.hpp>

#include <vector>

using esr::db::LatestRetries;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(latest_retries)

BOOST_AUTO_TEST_CASE(a_refused_delivery_waits_a_minute_doubling_up_to_an_hour) {
    LatestRetries retries;
    auto now = LatestRetries::clock::now();
    std::vector<long> pauses;
    for (int i = 0; i < 8; ++i) {
        const auto pause = retries.refused(7, now);
        pauses.push_back(pause.count());
        BOOST_TEST(retries.wait(7, now + pause - 1s));
        BOOST_TEST(!retries.wait(7, now + pause));
        now += pause;
    }
    BOOST_TEST(pauses == (std::vector<long>{1, 2, 4, 8, 16, 32, 60, 60}), boost::test_tools::per_element());
    BOOST_TEST(!retries.wait(8, now));  // another delivery is not put off
}

BOOST_AUTO_TEST_CASE(other_failures_end_the_turn_twice_then_put_the_delivery_off) {
    LatestRetries retries;
    const auto now = LatestRetries::clock::now();
    BOOST_TEST(retries.failed(7, now).count() == 0);
    BOOST_TEST(retries.failed(7, now).count() == 0);
    BOOST_TEST(retries.failed(7, now).count() == 1);
    BOOST_TEST(retries.wait(7, now + 59s));
    BOOST_TEST(!retries.wait(7, now + 60s));
    retries.forget(7);  // applied
    BOOST_TEST(retries.failed(7, now).count() == 0);
}

// A read-only or failing database fails every delivery's update alike, for as long as it lasts:
// once it takes writes again, no delivery may wait longer than a minute for its next try, however
// long the outage was.
BOOST_AUTO_TEST_CASE(after_a_long_outage_each_delivery_is_tried_again_within_a_minute) {
    LatestRetries retries;
    const auto start = LatestRetries::clock::now();
    auto now = start;
    for (; now < start + 3h; now += 1s)  // a turn a second, each failing
        for (std::int64_t id : {1, 2, 3})
            if (!retries.wait(id, now)) retries.failed(id, now);
    for (std::int64_t id : {1, 2, 3}) BOOST_TEST(!retries.wait(id, now + 1min), "delivery " << id);
}

BOOST_AUTO_TEST_SUITE_END()
