#pragma once

#include "esr/payload/records.hpp"

#include <boost/json/value.hpp>

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

namespace esr::payload {

struct JsonSyntaxError {
    std::size_t offset = 0;  // byte at which parsing failed
    std::string message;
};

/// Parses a delivery body. Invalid UTF-8 inside strings is accepted (the body is stored as bytes;
/// typed columns are cleaned); nesting deeper than 512 is refused.
std::variant<boost::json::value, JsonSyntaxError> parse_json(std::string_view body);

/// The body's shape says one kind and the path another.
class KindMismatch : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Classifies a document by the shape of its records (not by one guessed key) and derives the
/// typed rows. `declared` is the kind the path named, if any: a body of another recognisable kind
/// throws KindMismatch; an unrecognisable one takes the declared kind.
Extraction extract(const boost::json::value& document, std::optional<Kind> declared = std::nullopt);

// Coercions, public for their tests.
std::string clean_text(std::string_view text);  // valid UTF-8 (U+FFFD for bad bytes), no NUL
std::string normalize_key(std::string_view key);  // "event_id", "EventId" -> "eventid"
std::optional<std::string> coerce_date(std::string_view text);  // YYYY-MM-DD, from a date or timestamp
struct AttendeeRange {
    std::optional<std::int64_t> min, max;
};
std::optional<AttendeeRange> parse_attendee_range(std::string_view text);

}  // namespace esr::payload
