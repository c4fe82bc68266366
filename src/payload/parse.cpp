// Parsing a delivery body into a document.
#include "esr/payload/extract.hpp"
#include "parse.hpp"

#include <boost/json/stream_parser.hpp>

namespace esr::payload {
namespace json = boost::json;

json::parse_options parse_options() {
    json::parse_options options;
    options.max_depth = 512;  // a deeper document is hostile, not data
    // The body is stored as bytes; only typed columns need valid UTF-8, and clean_text gives it.
    options.allow_invalid_utf8 = true;
    return options;
}

std::variant<json::value, JsonSyntaxError> parse_json(std::string_view body) {
    json::stream_parser parser({}, parse_options());
    boost::system::error_code ec;
    std::size_t consumed = parser.write_some(body.data(), body.size(), ec);
    if (!ec && consumed < body.size()) ec = json::error::extra_data;
    if (!ec) {
        parser.finish(ec);
        if (ec) consumed = body.size();  // incomplete: it failed at the end
    }
    if (ec) return JsonSyntaxError{consumed, ec.message()};
    return parser.release();
}

}  // namespace esr::payload
