#pragma once

// Classification by the shape of records, shared by extract() and the streaming builder.

#include "esr/payload/extract.hpp"
#include "view.hpp"

#include <memory>
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

/// Classification and extraction in steps, for the streaming builder: with a declared kind, the
/// records of an array element that has no object around it are extracted as soon as it ends
/// (add_element), so the element need not be kept; finish() takes what is left of the document and
/// answers as extract_document() would have for the whole. (Without a declared kind the kind is
/// known only at the end, and extraction depends on it: add_element() declines.)
class RecordCollector {
public:
    explicit RecordCollector(std::optional<Kind> declared);
    ~RecordCollector();
    RecordCollector(const RecordCollector&) = delete;
    RecordCollector& operator=(const RecordCollector&) = delete;

    /// False (nothing done) without a declared kind or for a scalar. `depth`: levels below the body.
    bool add_element(const boost::json::value& element, int depth);
    std::variant<Extraction, KindMismatch> finish(const boost::json::value& rest,
                                                  std::optional<std::size_t> streamed_demand);

private:
    struct State;
    std::unique_ptr<State> state_;
};

/// Classifies `document` and derives its typed rows. `streamed_demand`: how many demand rows the
/// streaming builder already handed on (it leaves none in `document`); nothing: look for them.
std::variant<Extraction, KindMismatch> extract_document(const boost::json::value& document,
                                                        std::optional<Kind> declared,
                                                        std::optional<std::size_t> streamed_demand);

}  // namespace esr::payload
