#include "esr/http/answers.hpp"
#include "esr/metrics.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <ctime>
#include <regex>
#include <sstream>

using namespace esr;

namespace {

/// The value of the one sample `series` (name with labels, as rendered), or -1 when absent.
double value_of(const std::string& text, const std::string& series) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line))
        if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
    return -1;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(metrics)

// Issue 13: an operator sees at a glance whether EventsShop is delivering, what runs, and what the
// process costs; 408 and refused connections are no longer invisible.
BOOST_AUTO_TEST_CASE(an_operators_view) {
    Metrics m;
    auto text = m.render({});
    for (const char* kind : {"eventsinfo", "eventimpact", "hoteldemand"})
        BOOST_TEST(value_of(text, "eventsshop_last_delivery_timestamp_seconds{kind=\"" + std::string(kind) + "\"}") == 0);
    m.delivery(Kind::hoteldemand, 10, false, false);
    text = m.render({});
    const double now = static_cast<double>(std::time(nullptr));
    BOOST_TEST(value_of(text, "eventsshop_last_delivery_timestamp_seconds{kind=\"hoteldemand\"}") >= now - 5);
    BOOST_TEST(value_of(text, "eventsshop_last_delivery_timestamp_seconds{kind=\"eventsinfo\"}") == 0);

    BOOST_TEST(std::regex_search(text, std::regex(R"(eventsshop_build_info\{version="[^"]+"\} 1)")), text);
    BOOST_TEST(value_of(text, "process_resident_memory_bytes") > 1e6);
    BOOST_TEST(value_of(text, "process_open_fds") >= 3);
    BOOST_TEST(value_of(text, "process_max_fds") >= 3);
    BOOST_TEST(value_of(text, "process_cpu_seconds_total") >= 0);
    BOOST_TEST(value_of(text, "process_start_time_seconds") > 1e9);

    m.request(http::Route::delivery, 408, std::chrono::milliseconds(1), 0);
    m.connection_refused();
    text = m.render({});
    BOOST_TEST(value_of(text, "eventsshop_http_requests_total{route=\"delivery\",code=\"408\"}") == 1);
    BOOST_TEST(value_of(text, "eventsshop_connections_refused_total") == 1);
}

// Issue 14: the statuses /metrics knows and the answers the daemon gives were two lists (408 was
// exported as "other"); every answer in the catalogue is counted under its own code.
BOOST_AUTO_TEST_CASE(every_answer_in_the_catalogue_is_counted_by_its_status) {
    for (const auto& entry : esr::http::answers::catalogue)
        BOOST_TEST(std::find(Metrics::statuses.begin(), Metrics::statuses.end(), entry.status) != Metrics::statuses.end(),
                   entry.code << " (" << entry.status << ") is exported as other");
}

BOOST_AUTO_TEST_SUITE_END()
