#include "esr/payload/json_check.hpp"

#include <boost/json/basic_parser_impl.hpp>

namespace esr::payload {
namespace {

// A SAX handler that accepts everything: validation without building a document, so a large
// body costs no memory beyond itself.
struct NullHandler {
    constexpr static std::size_t max_object_size = std::size_t(-1);
    constexpr static std::size_t max_array_size = std::size_t(-1);
    constexpr static std::size_t max_key_size = std::size_t(-1);
    constexpr static std::size_t max_string_size = std::size_t(-1);
    using ec = boost::system::error_code;
    bool on_document_begin(ec&) { return true; }
    bool on_document_end(ec&) { return true; }
    bool on_object_begin(ec&) { return true; }
    bool on_object_end(std::size_t, ec&) { return true; }
    bool on_array_begin(ec&) { return true; }
    bool on_array_end(std::size_t, ec&) { return true; }
    bool on_key_part(std::string_view, std::size_t, ec&) { return true; }
    bool on_key(std::string_view, std::size_t, ec&) { return true; }
    bool on_string_part(std::string_view, std::size_t, ec&) { return true; }
    bool on_string(std::string_view, std::size_t, ec&) { return true; }
    bool on_number_part(std::string_view, ec&) { return true; }
    bool on_int64(std::int64_t, std::string_view, ec&) { return true; }
    bool on_uint64(std::uint64_t, std::string_view, ec&) { return true; }
    bool on_double(double, std::string_view, ec&) { return true; }
    bool on_bool(bool, ec&) { return true; }
    bool on_null(ec&) { return true; }
    bool on_comment_part(std::string_view, ec&) { return true; }
    bool on_comment(std::string_view, ec&) { return true; }
};

}  // namespace

std::optional<JsonSyntaxError> check_json(std::string_view body) {
    boost::json::parse_options options;
    options.max_depth = 512;  // a deeper document is hostile, not data
    // The body is stored as bytes; bad UTF-8 in one string must not cost the whole delivery.
    options.allow_invalid_utf8 = true;
    boost::json::basic_parser<NullHandler> parser(options);
    boost::system::error_code ec;
    std::size_t consumed = parser.write_some(false, body.data(), body.size(), ec);
    if (!ec && consumed < body.size()) ec = boost::json::error::extra_data;
    if (ec) return JsonSyntaxError{consumed, ec.message()};
    return std::nullopt;
}

}  // namespace esr::payload
