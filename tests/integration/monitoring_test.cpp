// What ships for monitoring (deploy/prometheus, deploy/grafana) against what the daemon exports.
#include "world.hpp"

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <regex>
#include <set>

using namespace esr::test;

namespace {

std::string scrape_after_a_delivery() {
    BOOST_TEST_REQUIRE(post("/", unique_body("monitoring")).status == 202u);
    auto r = HttpClient(world().port).request("GET", "/metrics");
    BOOST_TEST_REQUIRE(r.status == 200u);
    return r.body;
}

/// Metric names a file's expressions use.
std::set<std::string> metric_names_in(const std::string& file) {
    const std::string text = read_file(std::filesystem::path(ESR_SOURCE_DIR) / file);
    std::set<std::string> names;
    const std::regex name(R"(\b(?:eventsshop|process)_[a-z_]+\b)");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), name); it != std::sregex_iterator(); ++it)
        names.insert(it->str());
    return names;
}

bool have_promtool() {
    if (std::filesystem::exists("/usr/bin/promtool")) return true;
    BOOST_TEST_MESSAGE("promtool is not installed (scripts/install-deps.sh installs prometheus): skipped");
    return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(monitoring)

// Issue 13: an alert or a panel on a metric the daemon does not export silently never fires.
BOOST_AUTO_TEST_CASE(every_rule_and_panel_names_an_exported_metric) {
    const std::string scraped = scrape_after_a_delivery();
    int checked = 0;
    for (const char* file : {"deploy/prometheus/eventsshop-receiver.rules.yml", "deploy/grafana/eventsshop-receiver.json"}) {
        for (const auto& name : metric_names_in(file)) {
            const bool exported = std::regex_search(scraped, std::regex("(^|\\n)" + name + "[{ ]"));
            BOOST_TEST(exported, file << " uses " << name << ", which /metrics does not export");
            ++checked;
        }
    }
    BOOST_TEST(checked > 15);
}

BOOST_AUTO_TEST_CASE(promtool_accepts_the_rules_and_a_live_scrape) {
    if (!have_promtool()) return;
    std::string output;
    BOOST_TEST(run({"/usr/bin/promtool", "check", "rules",
                    std::string(ESR_SOURCE_DIR) + "/deploy/prometheus/eventsshop-receiver.rules.yml"},
                   {}, &output) == 0,
               output);
    TempDir dir;
    std::ofstream(dir.path / "scrape.txt") << scrape_after_a_delivery();
    BOOST_TEST(run({"/bin/sh", "-c", "/usr/bin/promtool check metrics < '" + (dir.path / "scrape.txt").string() + "'"}, {},
                   &output) == 0,
               output);
    BOOST_TEST(output == "", "promtool check metrics: " << output);
}

BOOST_AUTO_TEST_SUITE_END()
