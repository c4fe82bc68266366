#pragma once

// What the payload's two parsers (parse_json's document, the streaming builder) share.

#include <boost/json/parse_options.hpp>

#include <string>
#include <string_view>

namespace esr::payload {

/// The one set of parse options for every delivery body, so both parsers accept the same bodies.
boost::json::parse_options parse_options();

/// Boost.JSON 1.81 reads some numbers of 16-17 digits one unit in the last place off (about one
/// shortest round-trip coordinate in eight); read again with std::from_chars, the number's text
/// gives the nearest double, as a number sent as a string already does. The parser hands a number
/// split over its input in parts: part() keeps them until the number ends.
class NumberText {
public:
    void part(std::string_view s) { parts_.append(s); }
    /// The double the number's whole text names; `parsed` if from_chars cannot say (out of range).
    double nearest(double parsed, std::string_view last);
    /// An integer ended the number: its parts are done with.
    void clear() { parts_.clear(); }

private:
    std::string parts_;
};

}  // namespace esr::payload
