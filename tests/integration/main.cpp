#define BOOST_TEST_MODULE eventsshop-receiver integration tests
#include <boost/test/unit_test.hpp>
