// The vendor field table: which names EventsShop sends (in any spelling: they are compared
// normalized, "event_id" and "EventId" both as "eventid") fill which column, coerced how.
// A name no rule takes goes to the record's `extra`, as sent. Each list of names is written once.
#include "vendor_fields.hpp"

namespace esr::payload {
namespace {

Names join(Names a, const Names& b) {
    for (auto n : b)
        if (!named(n, a)) a.push_back(n);
    return a;
}

}  // namespace

// Names that several columns, or classification (classify.cpp), read.
const SentNames& sent() {
    static const SentNames names = [] {
        SentNames n;
        n.event_id = {"eventid", "eventsid"};
        n.event_name = {"eventname", "eventtitle"};  // alone, they make an event (not plain "name")
        n.name = join(n.event_name, {"name", "title"});
        n.category = {"category", "categoryid"};
        n.venue = {"venue", "venuename"};
        n.attendee = {"estimatedattendee", "estimatedattendees", "estimatedattendance", "attendance",
                      "expectedattendance"};
        n.demand_id = {"demandid"};
        n.hotel_code = {"hotelcode", "hotelid", "propertyid", "propertycode"};
        n.city = {"city"};
        n.country = {"country"};
        n.absolute_demand = {"absolutedemand"};
        n.relative_demand = {"relativedemand"};
        n.events_registered = {"eventsregistered", "numberofevents", "eventcount"};
        n.demand_figures = join(join(n.absolute_demand, n.relative_demand), n.events_registered);
        n.stay_date = {"date", "day", "staydate", "demanddate"};
        n.event_date = {"date", "day", "eventdate"};
        n.any_date = join(join(n.stay_date, n.event_date), {"impactdate"});
        n.impact_score = {"impactscore", "impact", "eventimpact", "impactvalue"};  // a number
        n.impact_series = {"impact", "impacts", "impactscores", "dailyimpact", "eventimpact"};  // an array of rows
        return n;
    }();
    return names;
}

const std::vector<Rule<EventRecord>>& event_rules() {
    const auto& n = sent();
    using E = EventRecord;
    static const std::vector<Rule<E>> rules{
        ignore<E>(n.event_id),  // the record's key, read on its own
        text(n.name, &E::name),
        text(join(n.category, {"categorycode"}), &E::category),
        text({"subcategory", "subcategoryid", "subcategorycode"}, &E::sub_category),
        text({"description", "eventdescription"}, &E::description),
        date({"startdate", "eventstartdate", "start"}, &E::start_date),
        date({"enddate", "eventenddate", "end"}, &E::end_date),
        attendee<E>(n.attendee),
        text(n.venue, &E::venue),
        text({"address", "venueaddress"}, &E::address),
        indexed_text(n.city, &E::city),  // events_city_start_idx
        text({"state", "province"}, &E::state),
        text({"zip", "zipcode", "postalcode", "postcode"}, &E::zip),
        text(n.country, &E::country),
        text({"region"}, &E::region),
        real({"lat", "latitude"}, &E::lat),
        real({"lng", "lon", "long", "longitude"}, &E::lng),
        integer32({"eventstatuscode", "statuscode", "eventstatus"}, &E::status_code),
    };
    return rules;
}

const std::vector<Rule<DemandRecord>>& demand_rules() {
    const auto& n = sent();
    using D = DemandRecord;
    static const std::vector<Rule<D>> rules{
        integer(n.demand_id, &D::demand_id),
        indexed_text(n.hotel_code, &D::hotel_code),  // hotel_demand's index, hotel_demand_latest's key
        text({"hotelname", "propertyname"}, &D::hotel_name),
        indexed_text(n.city, &D::city),  // hotel_demand_latest_city_stay_idx
        text(n.country, &D::country),
        date(n.stay_date, &D::stay_date),
        integer(n.absolute_demand, &D::absolute_demand),
        real(n.relative_demand, &D::relative_demand),
        integer32(n.events_registered, &D::events_registered),
    };
    return rules;
}

// An event as a city demand delivery lists it: one occurrence (event_date) of the event.
const std::vector<Rule<DemandEventRecord>>& demand_event_rules() {
    const auto& n = sent();
    using R = DemandEventRecord;
    static const std::vector<Rule<R>> rules{
        integer(n.demand_id, &R::demand_id),
        integer(n.event_id, &R::event_id),
        text(n.name, &R::event_name),
        text(n.venue, &R::venue),
        text(n.category, &R::category),
        date(n.event_date, &R::event_date),
        attendee<R>(n.attendee),
    };
    return rules;
}

}  // namespace esr::payload
