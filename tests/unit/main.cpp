#define BOOST_TEST_MODULE eventsshop-receiver unit tests
#include <boost/test/unit_test.hpp>

#include "esr/log.hpp"

namespace {
// The code under test logs warnings on purpose (unclassified bodies and the like): keep the
// test output to the tests.
struct QuietLogs {
    QuietLogs() { esr::log::set_level("error"); }
};
}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(QuietLogs);
