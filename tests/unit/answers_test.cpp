// The catalogue of answers is what clients rely on, and docs/bad-input.md is where they read it:
// every entry must be documented there with its status.
#include "esr/http/answers.hpp"

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace {

std::string read_doc(const char* relative) {
    std::ifstream in(std::string(ESR_SOURCE_DIR) + "/" + relative);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(answers)

BOOST_AUTO_TEST_CASE(docs_bad_input_lists_every_code_with_its_status) {
    const std::string doc = read_doc("docs/bad-input.md");
    BOOST_REQUIRE(!doc.empty());
    for (const auto& entry : esr::http::answers::catalogue) {
        // A row of the "Every error code" table: | `code` | status | ...
        const std::string row = "| `" + std::string(entry.code) + "` | " + std::to_string(entry.status) + " |";
        BOOST_TEST(doc.find(row) != std::string::npos, "docs/bad-input.md has no row " << row);
    }
}

BOOST_AUTO_TEST_SUITE_END()
