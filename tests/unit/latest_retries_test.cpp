#include "esr/db/latest_retries.hpp"

#include <boost/test/unit_test.hpp>

#include <vector>

using esr::db::LatestRetries;
using namespace std::chrono_literals;
using Why = LatestRetries::Why;

BOOST_AUTO_TEST_SUITE(latest_retries)

BOOST_AUTO_TEST_CASE(what_each_sqlstate_says) {
    for (const char* refusal : {"21000", "22003", "23505", "54000", "P0001", "2F005", "38001", "39P01"})
        BOOST_TEST((LatestRetries::why(refusal) == Why::refused), refusal);
    BOOST_TEST((LatestRetries::why("53400") == Why::over_limit));  // temp_file_limit: this statement's size
    for (const char* state : {"25006", "42P01", "55P03", "40P01", "40001", "53100", "53200", "57014", "XX000", ""})
        BOOST_TEST((LatestRetries::why(state) == Why::database), state);
}

BOOST_AUTO_TEST_CASE(a_refused_delivery_waits_a_minute_doubling_up_to_an_hour) {
    for (const char* state : {"23505", "53400"}) {
        LatestRetries retries;
        auto now = LatestRetries::clock::now();
        std::vector<long> pauses;
        for (int i = 0; i < 8; ++i) {
            const auto pause = retries.failed(7, state, now).pause;
            pauses.push_back(pause.count());
            BOOST_TEST(retries.wait(7, now + pause - 1s));
            BOOST_TEST(!retries.wait(7, now + pause));
            now += pause;
        }
        BOOST_TEST(pauses == (std::vector<long>{1, 2, 4, 8, 16, 32, 60, 60}), boost::test_tools::per_element());
        BOOST_TEST(!retries.wait(8, now));  // another delivery is not put off
    }
}

// The database's state (read-only, a lock timeout, a deadlock, a full disk): the next turn tries
// again, twice; from the third failure in a row, each puts the delivery off for a minute, never
// longer, so that it cannot keep every delivery after it waiting, and is tried soon once the
// database mends.
BOOST_AUTO_TEST_CASE(other_failures_end_the_turn_twice_then_put_the_delivery_off_for_a_minute) {
    LatestRetries retries;
    auto now = LatestRetries::clock::now();
    BOOST_TEST(retries.failed(7, "55P03", now).pause.count() == 0);
    BOOST_TEST(retries.failed(7, "55P03", now).pause.count() == 0);
    for (int i = 0; i < 10; ++i) {
        const auto retry = retries.failed(7, "53100", now);
        BOOST_TEST(retry.pause.count() == 1);
        BOOST_TEST((retry.why == Why::database));
        BOOST_TEST(retries.wait(7, now + 59s));
        BOOST_TEST(!retries.wait(7, now + 60s));
        now += 60s;
    }
    retries.forget(7);  // applied
    BOOST_TEST(retries.failed(7, "55P03", now).pause.count() == 0);
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
            if (!retries.wait(id, now)) retries.failed(id, "25006", now);
    for (std::int64_t id : {1, 2, 3}) BOOST_TEST(!retries.wait(id, now + 1min), "delivery " << id);
}

BOOST_AUTO_TEST_SUITE_END()
