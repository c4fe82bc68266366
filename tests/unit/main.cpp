#define BOOST_TEST_MODULE eventsshop-receiver unit tests
#include <boost/test/unit_test.hpp>
