#include "payload_test_support.hpp"

#include <filesystem>

using namespace esr;
using namespace esr::payload;
using namespace esr::payload::test;

// parse_json: which bodies are JSON, and where a body that is not fails.
BOOST_AUTO_TEST_SUITE(parsing)

BOOST_AUTO_TEST_CASE(every_json_fixture_parses) {
    for (const auto& entry : std::filesystem::directory_iterator(ESR_FIXTURES_DIR)) {
        auto name = entry.path().filename().string();
        if (entry.path().extension() != ".json" || name == "malformed-truncated.json") continue;
        BOOST_TEST_CONTEXT(name) { BOOST_TEST(std::holds_alternative<boost::json::value>(parse_json(fixture(name)))); }
    }
}

BOOST_AUTO_TEST_CASE(truncated_fixture_fails_at_its_end) {
    auto body = fixture("malformed-truncated.json");
    auto r = parse_json(body);
    BOOST_REQUIRE(std::holds_alternative<JsonSyntaxError>(r));
    BOOST_TEST(std::get<JsonSyntaxError>(r).offset == body.size());
}

BOOST_AUTO_TEST_CASE(reports_the_byte_where_parsing_failed) {
    auto r = parse_json(R"({"a": 1, "b": tru})");
    BOOST_REQUIRE(std::holds_alternative<JsonSyntaxError>(r));
    BOOST_TEST(std::get<JsonSyntaxError>(r).offset == 14u);  // where the bad literal starts
    auto extra = parse_json("{} {}");
    BOOST_REQUIRE(std::holds_alternative<JsonSyntaxError>(extra));
    BOOST_TEST(std::get<JsonSyntaxError>(extra).offset == 3u);
}

BOOST_AUTO_TEST_CASE(odd_but_valid_text_is_json) {
    BOOST_TEST(std::holds_alternative<boost::json::value>(parse_json(" \n{\"a\":[1,2]}\r\n ")));
    BOOST_TEST(std::holds_alternative<boost::json::value>(parse_json("42")));
    BOOST_TEST(std::holds_alternative<boost::json::value>(parse_json("\"text\"")));
    BOOST_TEST(std::holds_alternative<boost::json::value>(parse_json("{\"a\":\"\xff\xfe\"}")));  // invalid UTF-8
    BOOST_TEST(std::holds_alternative<boost::json::value>(
        parse_json(R"({"a":"\u0000","a":1,"n":123456789012345678901234567890})")));
}

BOOST_AUTO_TEST_CASE(empty_and_too_deep_fail_cleanly) {
    BOOST_TEST(std::holds_alternative<JsonSyntaxError>(parse_json("")));
    BOOST_TEST(std::holds_alternative<JsonSyntaxError>(parse_json(std::string(100000, '[') + std::string(100000, ']'))));
}


BOOST_AUTO_TEST_SUITE_END()
