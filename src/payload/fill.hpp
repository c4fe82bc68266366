#pragma once

// Typed records filled from a record's members by the vendor field table (vendor_fields.cpp).

#include "esr/payload/records.hpp"
#include "view.hpp"

namespace esr::payload {

/// By event_rules(); members no rule takes go to extra, but for those in `consumed` (the
/// names another record read from the same object, such as an impact's date).
void fill(const View& view, EventRecord& record, const Names& consumed = {});
/// By demand_event_rules().
void fill(const View& view, DemandEventRecord& record);

/// A demand row by demand_rules(), with what it lacks from `defaults` (if any).
DemandRecord demand_row(const View& row, const DemandRecord* defaults);

/// What an envelope says for every demand row that does not say otherwise: only its own scalars
/// (its arrays are the records themselves).
DemandRecord defaults_of(const boost::json::object& envelope);
/// Whether a record kept a value sent under one of `names` in extra._uncoerced: it sent one of its
/// own, which a column could not take.
bool sent_unusable(const boost::json::object& extra, const Names& names);
void fill_missing(DemandRecord& row, const DemandRecord& defaults);

}  // namespace esr::payload
