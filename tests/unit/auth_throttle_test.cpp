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

// Issue 13: a flood of distinct failing addresses must not clear the record of the ones that
// failed first (that would hand a blocked guesser a fresh start); the oldest entries go first.
BOOST_AUTO_TEST_CASE(a_flood_of_addresses_evicts_the_oldest_not_everyone) {
    auto now = std::chrono::steady_clock::time_point{} + 1h;
    AuthThrottle t(1, 60s, 50, [&] { return now; });
    for (int i = 0; i < 1000; ++i) t.failed("198.51.100." + std::to_string(i));
    BOOST_TEST(!t.blocked("198.51.100.0"));  // the oldest, evicted
    BOOST_TEST(t.blocked("198.51.100.999").has_value());  // the newest, still counted
    BOOST_TEST(t.blocked("198.51.100.951").has_value());
}

// Issue 13: one IPv6 /64 is one subscriber's, who can rotate addresses inside it at will.
BOOST_AUTO_TEST_CASE(ipv6_addresses_count_per_64) {
    auto now = std::chrono::steady_clock::time_point{} + 1h;
    AuthThrottle t(3, 60s, 100, [&] { return now; });
    t.failed("2001:db8:1:2::1");
    t.failed("2001:db8:1:2:aaaa::2");
    t.failed("2001:db8:1:2:ffff:ffff:ffff:ffff");
    BOOST_TEST(t.blocked("2001:db8:1:2::99").has_value());
    BOOST_TEST(!t.blocked("2001:db8:1:3::1"));
    BOOST_TEST(!t.blocked("192.0.2.1"));
}

BOOST_AUTO_TEST_CASE(a_limit_of_zero_turns_it_off) {
    AuthThrottle t(0, 10s);
    for (int i = 0; i < 100; ++i) t.failed("a");
    BOOST_TEST(!t.blocked("a"));
}

BOOST_AUTO_TEST_SUITE_END()
