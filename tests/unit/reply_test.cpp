#include "esr/delivery.hpp"

#include <boost/test/unit_test.hpp>

#include <optional>
#include <vector>

using esr::Reply;
using esr::StoreOutcome;

BOOST_AUTO_TEST_SUITE(reply)

// Issue 11, case 8: a path that forgets a delivery must not leave its sender without an answer.
BOOST_AUTO_TEST_CASE(a_reply_dropped_uncalled_answers_503_unavailable_once) {
    std::vector<StoreOutcome> heard;
    {
        Reply r([&](StoreOutcome o) { heard.push_back(std::move(o)); });
        Reply copy = r;  // copies share the one answer
    }
    BOOST_REQUIRE(heard.size() == 1u);
    BOOST_TEST(static_cast<int>(heard[0].status) == static_cast<int>(StoreOutcome::Status::unavailable));
}

BOOST_AUTO_TEST_CASE(a_reply_answers_at_most_once) {
    std::vector<StoreOutcome> heard;
    {
        Reply r([&](StoreOutcome o) { heard.push_back(std::move(o)); });
        Reply copy = r;
        r(StoreOutcome::stored(7, esr::Kind::eventsinfo, 1));
        copy(StoreOutcome::failed("a second answer"));
    }
    BOOST_REQUIRE(heard.size() == 1u);
    BOOST_TEST(heard[0].delivery_id == 7);
}

BOOST_AUTO_TEST_SUITE_END()
