#pragma once

// Classification by the shape of records, shared by extract() and the streaming builder.

#include "esr/payload/extract.hpp"
#include "view.hpp"

#include <optional>
#include <string_view>
#include <variant>

namespace esr::payload {

/// An object with a demand figure (absoluteDemand, ...) as a scalar.
bool is_demand_row(const View& v);

/// Whether `element`, standing in arrays only (no object around it) `depth` levels below the body,
/// holds anything extract_document() would take as a record (demand rows aside: those are streamed).
bool holds_records(const boost::json::value& element, int depth);

/// "the body looks like <found> (<why>), not <declared>".
KindMismatch mismatch(Kind found, std::string_view why, Kind declared);

/// Classifies `document` and derives its typed rows. `streamed_demand`: how many demand rows the
/// streaming builder already handed on (it leaves none in `document`); nothing: look for them.
std::variant<Extraction, KindMismatch> extract_document(const boost::json::value& document,
                                                        std::optional<Kind> declared,
                                                        std::optional<std::size_t> streamed_demand);

}  // namespace esr::payload
