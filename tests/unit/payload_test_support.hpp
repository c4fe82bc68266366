#pragma once

// What the payload's unit tests share: the sample deliveries, and extraction that must succeed.

#include "esr/payload/extract.hpp"

#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace esr::payload::test {

inline std::string fixture(const std::string& name) {
    std::ifstream in(std::string(ESR_FIXTURES_DIR) + "/" + name, std::ios::binary);
    BOOST_REQUIRE_MESSAGE(in, "fixture " << name << " not found in " << ESR_FIXTURES_DIR);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

inline boost::json::value parsed(const std::string& text) {
    auto r = parse_json(text);
    BOOST_REQUIRE_MESSAGE(std::holds_alternative<boost::json::value>(r), "not JSON: " << text);
    return std::get<boost::json::value>(r);
}

/// The extraction of `text`, which must not be refused.
inline Extraction of(const std::string& text, std::optional<Kind> declared = std::nullopt) {
    auto r = extract(parsed(text), declared);
    const auto* refused = std::get_if<KindMismatch>(&r);  // (the message is evaluated even on success)
    BOOST_REQUIRE_MESSAGE(!refused, "refused: " << (refused ? refused->message : std::string()));
    return std::get<Extraction>(std::move(r));
}

inline const EventRecord& event(const Extraction& x, std::int64_t id) {
    for (const auto& e : x.events)
        if (e.event_id == id) return e;
    BOOST_FAIL("no event " << id);
    throw;
}

}  // namespace esr::payload::test
