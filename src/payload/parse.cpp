// Parsing a delivery body into a document.
#include "esr/payload/extract.hpp"
#include "parse.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

#include <charconv>

namespace esr::payload {
namespace json = boost::json;

json::parse_options parse_options() {
    json::parse_options options;
    options.max_depth = 512;  // a deeper document is hostile, not data
    // The body is stored as bytes; only typed columns need valid UTF-8, and clean_text gives it.
    options.allow_invalid_utf8 = true;
    return options;
}

double NumberText::nearest(double parsed, std::string_view last) {
    std::string_view text = last;
    if (!parts_.empty()) text = parts_.append(last);
    double nearest = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), nearest);
    const bool whole = error == std::errc() && end == text.data() + text.size();
    parts_.clear();
    return whole ? nearest : parsed;
}

namespace {

/// Boost.JSON's own document builder (json::parser's handler, on its value_stack), except that
/// doubles are read by NumberText.
class DocumentBuilder {
public:
    constexpr static std::size_t max_object_size = json::object::max_size();
    constexpr static std::size_t max_array_size = json::array::max_size();
    constexpr static std::size_t max_key_size = json::string::max_size();
    constexpr static std::size_t max_string_size = json::string::max_size();
    using ec = boost::system::error_code;

    DocumentBuilder() { stack_.reset(); }

    bool on_document_begin(ec&) { return true; }
    bool on_document_end(ec&) { return true; }
    bool on_object_begin(ec&) { return true; }
    bool on_object_end(std::size_t n, ec&) {
        stack_.push_object(n);
        return true;
    }
    bool on_array_begin(ec&) { return true; }
    bool on_array_end(std::size_t n, ec&) {
        stack_.push_array(n);
        return true;
    }
    bool on_key_part(std::string_view s, std::size_t, ec&) {
        stack_.push_chars(s);
        return true;
    }
    bool on_key(std::string_view s, std::size_t, ec&) {
        stack_.push_key(s);
        return true;
    }
    bool on_string_part(std::string_view s, std::size_t, ec&) {
        stack_.push_chars(s);
        return true;
    }
    bool on_string(std::string_view s, std::size_t, ec&) {
        stack_.push_string(s);
        return true;
    }
    bool on_number_part(std::string_view s, ec&) {
        number_.part(s);
        return true;
    }
    bool on_int64(std::int64_t v, std::string_view, ec&) {
        number_.clear();
        stack_.push_int64(v);
        return true;
    }
    bool on_uint64(std::uint64_t v, std::string_view, ec&) {
        number_.clear();
        stack_.push_uint64(v);
        return true;
    }
    bool on_double(double v, std::string_view s, ec&) {
        stack_.push_double(number_.nearest(v, s));
        return true;
    }
    bool on_bool(bool v, ec&) {
        stack_.push_bool(v);
        return true;
    }
    bool on_null(ec&) {
        stack_.push_null();
        return true;
    }
    bool on_comment_part(std::string_view, ec&) { return true; }
    bool on_comment(std::string_view, ec&) { return true; }

    json::value release() { return stack_.release(); }

private:
    json::value_stack stack_;
    NumberText number_;
};

}  // namespace

std::variant<json::value, JsonSyntaxError> parse_json(std::string_view body) {
    json::basic_parser<DocumentBuilder> parser(parse_options());
    boost::system::error_code ec;
    std::size_t consumed = parser.write_some(false, body.data(), body.size(), ec);
    if (!ec && consumed < body.size()) ec = json::error::extra_data;
    if (ec) return JsonSyntaxError{consumed, ec.message()};
    return parser.handler().release();
}

}  // namespace esr::payload
