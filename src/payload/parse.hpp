#pragma once

// What the payload's two parsers (parse_json's document, the streaming builder) share.

#include <boost/json/parse_options.hpp>

namespace esr::payload {

/// The one set of parse options for every delivery body, so both parsers accept the same bodies.
boost::json::parse_options parse_options();

}  // namespace esr::payload
