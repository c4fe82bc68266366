#include "esr/payload/json_check.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using esr::payload::check_json;

namespace {
std::string fixture(const std::string& name) {
    std::ifstream in(std::string(ESR_FIXTURES_DIR) + "/" + name, std::ios::binary);
    BOOST_REQUIRE_MESSAGE(in, "fixture " << name << " not found in " << ESR_FIXTURES_DIR);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}
}  // namespace

BOOST_AUTO_TEST_SUITE(json_check)

BOOST_AUTO_TEST_CASE(every_json_fixture_is_valid) {
    for (const auto& entry : std::filesystem::directory_iterator(ESR_FIXTURES_DIR)) {
        auto name = entry.path().filename().string();
        if (entry.path().extension() != ".json" || name == "malformed-truncated.json") continue;
        BOOST_TEST_CONTEXT(name) { BOOST_TEST(!check_json(fixture(name))); }
    }
}

BOOST_AUTO_TEST_CASE(truncated_fixture_fails_at_its_end) {
    auto body = fixture("malformed-truncated.json");
    auto err = check_json(body);
    BOOST_REQUIRE(err);
    BOOST_TEST(err->offset == body.size());
}

BOOST_AUTO_TEST_CASE(reports_the_byte_where_parsing_failed) {
    auto err = check_json(R"({"a": 1, "b": tru})");
    BOOST_REQUIRE(err);
    BOOST_TEST(err->offset == 14u);  // where the bad literal starts
    BOOST_TEST(!err->message.empty());
}

BOOST_AUTO_TEST_CASE(whitespace_around_is_fine_but_trailing_data_is_not) {
    BOOST_TEST(!check_json(" \n{\"a\":[1,2]}\r\n "));
    auto err = check_json("{} {}");
    BOOST_REQUIRE(err);
    BOOST_TEST(err->offset == 3u);
}

BOOST_AUTO_TEST_CASE(scalars_and_odd_but_valid_text_are_json) {
    BOOST_TEST(!check_json("42"));
    BOOST_TEST(!check_json("\"text\""));
    BOOST_TEST(!check_json(R"({"a":"\u0000","a":1e400,"n":123456789012345678901234567890})"));
}

BOOST_AUTO_TEST_CASE(invalid_utf8_inside_a_string_is_accepted) {
    BOOST_TEST(!check_json("{\"a\":\"\xff\xfe\"}"));
}

BOOST_AUTO_TEST_CASE(empty_and_hostile_inputs_fail_cleanly) {
    BOOST_TEST(check_json("").has_value());
    BOOST_TEST(check_json(std::string(100000, '[') + std::string(100000, ']')).has_value());  // too deep
}

BOOST_AUTO_TEST_SUITE_END()
