#pragma once

#include "esr/kind.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace esr::payload {

// Typed rows derived from one delivery. Every text is clean for PostgreSQL (valid UTF-8, no NUL);
// a value that could not be coerced is NULL here and kept, as sent, under extra["_uncoerced"].

struct EventRecord {
    std::int64_t event_id = 0;
    std::optional<std::string> name, category, sub_category, description;
    std::optional<std::string> start_date, end_date;  // YYYY-MM-DD
    std::optional<std::string> estimated_attendee;
    std::optional<std::int64_t> attendee_min, attendee_max;
    std::optional<std::string> venue, address, city, state, zip, country, region;
    std::optional<double> lat, lng;
    std::optional<std::int64_t> status_code;
    boost::json::object extra;  // fields we do not map, as sent (cleaned)
    bool operator==(const EventRecord&) const = default;
};

struct ImpactRecord {
    std::int64_t event_id = 0;
    std::string impact_date;  // YYYY-MM-DD
    std::optional<double> impact_score;
    bool operator==(const ImpactRecord&) const = default;
};

/// The fields a demand row takes from its envelope (Extraction::demand_defaults) when it has none.
enum class EnvelopeField : std::uint8_t { demand_id, hotel_code, city, country };

struct DemandRecord {
    std::optional<std::int64_t> demand_id;
    std::optional<std::string> hotel_code, hotel_name, city, country;
    std::optional<std::string> stay_date;
    std::optional<std::int64_t> absolute_demand;
    std::optional<double> relative_demand;
    std::optional<std::int64_t> events_registered;
    boost::json::object extra;
    /// Envelope fields this row sent but could not use, each with the key it sent (its value is
    /// under extra._uncoerced[key]): the row has a value of its own, so the envelope's must not
    /// stand in for it.
    std::vector<std::pair<EnvelopeField, std::string>> unusable_own;
    bool sent_unusable(EnvelopeField f) const {
        for (const auto& [field, key] : unusable_own)
            if (field == f) return true;
        return false;
    }
    bool operator==(const DemandRecord&) const = default;
};

/// A city-level event record carried by a demand delivery.
struct DemandEventRecord {
    std::optional<std::int64_t> demand_id, event_id;
    std::optional<std::string> event_name, venue, category, event_date, estimated_attendee;
    std::optional<std::int64_t> attendee_min, attendee_max;
    boost::json::object extra;
    bool operator==(const DemandEventRecord&) const = default;
};

struct Extraction {
    Kind kind = Kind::unclassified;
    std::string reason;  // why this kind, in words, for logs and error answers
    std::vector<EventRecord> events;
    std::vector<ImpactRecord> impacts;
    std::vector<DemandRecord> demand;
    std::vector<DemandEventRecord> demand_events;
    std::size_t streamed_demand = 0;  // demand rows handed to a DemandRowSink instead of `demand`
    DemandRecord demand_defaults;      // the top-level envelope's demandId, hotelCode, city, country
    // Keys repeated within one object. The raw body keeps every value; the one-pass extractor
    // streams demand rows under each, the document keeps the last value of each key.
    std::size_t duplicate_keys = 0;

    std::size_t record_count() const {
        return events.size() + impacts.size() + demand.size() + streamed_demand + demand_events.size();
    }
};

}  // namespace esr::payload
