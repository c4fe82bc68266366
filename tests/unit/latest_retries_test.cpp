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

// A failure that is not a refusal yet is the delivery's own (its sort past temp_file_limit, say)
// shows itself when other deliveries are applied between its tries: then it waits longer each
// time, as a refused one does, rather than costing the database a try every minute for ever.
BOOST_AUTO_TEST_CASE(a_delivery_failing_while_others_are_applied_waits_longer_each_time) {
    LatestRetries retries;
    const auto now = LatestRetries::clock::now();
    retries.failed(7, now);
    retries.failed(7, now);
    BOOST_TEST(retries.failed(7, now).count() == 1);
    std::vector<long> pauses;
    for (std::int64_t other : {8, 9, 10}) {
        retries.applied(other);
        pauses.push_back(retries.failed(7, now).count());
    }
    BOOST_TEST(pauses == (std::vector<long>{2, 4, 8}), boost::test_tools::per_element());
    BOOST_TEST(retries.failed(7, now).count() == 1);  // none applied since: the database's, maybe
}

BOOST_AUTO_TEST_SUITE_END()
