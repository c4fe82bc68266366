#pragma once

// Coercions of sent values to typed columns, shared by the field rules and classification.
// (clean_text, normalize_key, coerce_date and parse_attendee_range are public: esr/payload/extract.hpp.)

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace esr::payload {

template <class T>
struct Coerced {
    std::optional<T> value;
    bool bad = false;  // present, not null, and not usable as T: kept under extra["_uncoerced"]
};

Coerced<std::int64_t> to_integer(const boost::json::value& v);
// For PostgreSQL `integer` columns: a value beyond 32 bits would fail the whole statement.
Coerced<std::int64_t> to_integer32(const boost::json::value& v);
Coerced<double> to_real(const boost::json::value& v);
Coerced<std::string> to_text(const boost::json::value& v);
// For text columns under a btree index: an entry holds about 2.7 KB, and a longer value would fail
// the whole statement, so one over max_indexed_text_bytes is not usable here.
constexpr std::size_t max_indexed_text_bytes = 2048;
Coerced<std::string> to_indexed_text(const boost::json::value& v);
Coerced<std::string> to_date(const boost::json::value& v);  // YYYY-MM-DD

/// A copy that PostgreSQL's jsonb accepts: clean strings and keys, no non-finite numbers.
boost::json::value clean_value(const boost::json::value& v);

}  // namespace esr::payload
