#pragma once

#include "esr/payload/records.hpp"

#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <optional>
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

/// The body's shape says one kind and the path another: a refusal (400), returned like a syntax
/// error, not thrown.
struct KindMismatch {
    Kind found = Kind::unclassified;     // what the body looks like
    Kind declared = Kind::unclassified;  // what the path named
    std::string message;                 // both, in words, for the answer and the log
};

/// Classifies a document by the shape of its records (not by one guessed key) and derives the
/// typed rows. `declared` is the kind the path named, if any: a body of another recognisable kind
/// is a KindMismatch; an unrecognisable one takes the declared kind.
std::variant<Extraction, KindMismatch> extract(const boost::json::value& document,
                                               std::optional<Kind> declared = std::nullopt);

/// Receives demand rows as they are parsed, so a year-long city matrix never exists in memory as a
/// document or a vector of rows (the large-body path streams them into COPY).
class DemandRowSink {
public:
    virtual ~DemandRowSink() = default;
    virtual void row(DemandRecord&& record) = 0;
};

/// Parses and extracts in one pass without building a document of the whole body: each demand row
/// goes to `sink` when its object ends, everything else (few records) is kept and extracted as
/// extract() does. Rows lacking demandId, hotelCode, city or country take them from the enclosing
/// envelope's members seen so far; those the top-level envelope only gives after its rows are in
/// Extraction::demand_defaults for the caller to fill in. A KindMismatch as extract() gives it,
/// as soon as it knows (no row reaches the sink after it).
std::variant<Extraction, JsonSyntaxError, KindMismatch> extract_streaming(std::string_view body,
                                                                          std::optional<Kind> declared,
                                                                          DemandRowSink& sink,
                                                                          boost::json::storage_ptr storage = {});

/// extract_streaming with the rows kept in Extraction::demand (defaults filled in).
std::variant<Extraction, JsonSyntaxError, KindMismatch> extract_body(std::string_view body,
                                                                     std::optional<Kind> declared);

/// Merges what a later record says of the same event into `into`: its known values win, its
/// missing ones erase nothing, its extra keys are added.
void merge_event(EventRecord& into, const EventRecord& from);

// Coercions, public for their tests.
std::string clean_text(std::string_view text);  // valid UTF-8 (U+FFFD for bad bytes), no NUL
std::string normalize_key(std::string_view key);  // "event_id", "EventId" -> "eventid"
std::optional<std::string> coerce_date(std::string_view text);  // YYYY-MM-DD, from a date or timestamp
struct AttendeeRange {
    std::optional<std::int64_t> min, max;
};
std::optional<AttendeeRange> parse_attendee_range(std::string_view text);

}  // namespace esr::payload
