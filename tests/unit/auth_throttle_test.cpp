#include "esr/http/auth_throttle.hpp"

#include <boost/test/unit_test.hpp>

using esr::http::AuthThrottle;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(auth_throttle)

BOOST_AUTO_TEST_CASE(blocks_an_address_past_the_limit_for_the_rest_of_the_window) {
    auto now = std::chrono::steady_clock::time_point{} + 1h;
    AuthThrottle t(3, 60s, 100, [&] { return now; });
    for (int i = 0; i < 3; ++i) {
        BOOST_TEST(!t.blocked("192.0.2.1"));
        t.failed("192.0.2.1");
    }
    auto wait = t.blocked("192.0.2.1");
    BOOST_REQUIRE(wait);
    BOOST_TEST(wait->count() == 60);
    BOOST_TEST(!t.blocked("192.0.2.2"));  // others are not slowed
    now += 45s;
    BOOST_TEST(t.blocked("192.0.2.1")->count() == 15);
    now += 15s;
    BOOST_TEST(!t.blocked("192.0.2.1"));
}

BOOST_AUTO_TEST_CASE(failures_in_an_old_window_do_not_add_up) {
    auto now = std::chrono::steady_clock::time_point{} + 1h;
    AuthThrottle t(2, 10s, 100, [&] { return now; });
    t.failed("a");
    now += 11s;
    t.failed("a");
    BOOST_TEST(!t.blocked("a"));
}

BOOST_AUTO_TEST_CASE(memory_stays_bounded_under_a_flood_of_addresses) {
    auto now = std::chrono::steady_clock::time_point{} + 1h;
    AuthThrottle t(1, 10s, 50, [&] { return now; });
    for (int i = 0; i < 1000; ++i) t.failed("198.51.100." + std::to_string(i));
    BOOST_TEST(!t.blocked("198.51.100.1"));  // forgotten: the bound wins over the record
}

BOOST_AUTO_TEST_CASE(a_limit_of_zero_turns_it_off) {
    AuthThrottle t(0, 10s);
    for (int i = 0; i < 100; ++i) t.failed("a");
    BOOST_TEST(!t.blocked("a"));
}

BOOST_AUTO_TEST_SUITE_END()
