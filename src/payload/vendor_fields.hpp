#pragma once

// The shape of the vendor field table (vendor_fields.cpp): which sent names fill which column of
// which record, coerced how. fill.cpp applies it; classify.cpp looks for some of the same names.

#include "esr/payload/records.hpp"
#include "view.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace esr::payload {

// integer32: the column is PostgreSQL's `integer`; a value beyond it would fail the whole statement,
// so it is NULL in the column and kept under extra["_uncoerced"] like any value that does not fit.
// indexed_text: the column is under a btree index; a value too long for an index entry would fail
// the whole statement, so it is NULL in the column and kept under extra["_uncoerced"] too.
// attendee: text into estimated_attendee, and its range into attendee_min / attendee_max.
// ignore: taken by no column and kept out of extra (the record's key, read on its own).
enum class As { text, indexed_text, integer, integer32, real, date, attendee, ignore };

template <class Record>
struct Rule {
    Names names;
    As as;
    std::optional<std::string> Record::*text = nullptr;
    std::optional<std::int64_t> Record::*integer = nullptr;
    std::optional<double> Record::*real = nullptr;
};

template <class Record>
Rule<Record> text(Names n, std::optional<std::string> Record::*m) {
    return {std::move(n), As::text, m};
}
template <class Record>
Rule<Record> indexed_text(Names n, std::optional<std::string> Record::*m) {
    return {std::move(n), As::indexed_text, m};
}
template <class Record>
Rule<Record> date(Names n, std::optional<std::string> Record::*m) {
    return {std::move(n), As::date, m};
}
template <class Record>
Rule<Record> integer(Names n, std::optional<std::int64_t> Record::*m) {
    return {std::move(n), As::integer, nullptr, m};
}
template <class Record>
Rule<Record> integer32(Names n, std::optional<std::int64_t> Record::*m) {
    return {std::move(n), As::integer32, nullptr, m};
}
template <class Record>
Rule<Record> real(Names n, std::optional<double> Record::*m) {
    return {std::move(n), As::real, nullptr, nullptr, m};
}
template <class Record>
Rule<Record> attendee(Names n) {
    return {std::move(n), As::attendee};
}
template <class Record>
Rule<Record> ignore(Names n) {
    return {std::move(n), As::ignore};
}

/// The sent names that mean one thing, each list written once in vendor_fields.cpp and used by
/// the rules and by classification alike.
struct SentNames {
    Names event_id, event_name, name, category, venue, attendee;
    Names demand_id, hotel_code, city, country;
    Names absolute_demand, relative_demand, events_registered;
    Names demand_figures;  // any of the three above: what makes a demand row
    Names stay_date, event_date, any_date;
    Names impact_score, impact_series;
};
const SentNames& sent();

const std::vector<Rule<EventRecord>>& event_rules();
const std::vector<Rule<DemandRecord>>& demand_rules();
const std::vector<Rule<DemandEventRecord>>& demand_event_rules();

}  // namespace esr::payload
