#include "fill.hpp"
#include "coerce.hpp"
#include "esr/payload/extract.hpp"
#include "vendor_fields.hpp"

#include <optional>
#include <type_traits>

namespace esr::payload {
namespace json = boost::json;
namespace {

void note_uncoerced(json::object& extra, std::string_view key, const json::value& v) {
    auto& bad = extra["_uncoerced"];
    if (!bad.is_object()) bad = json::object{};
    bad.get_object()[clean_text(key)] = clean_value(v);
}

/// The envelope field a demand rule fills, if any.
std::optional<EnvelopeField> envelope_field(const Rule<DemandRecord>& rule) {
    if (rule.integer == &DemandRecord::demand_id) return EnvelopeField::demand_id;
    if (rule.text == &DemandRecord::hotel_code) return EnvelopeField::hotel_code;
    if (rule.text == &DemandRecord::city) return EnvelopeField::city;
    if (rule.text == &DemandRecord::country) return EnvelopeField::country;
    return std::nullopt;
}

/// Fills `record` from `view` by `rules`; members no rule takes and not in `consumed` go to extra.
template <class Record>
void apply(const View& view, const std::vector<Rule<Record>>& rules, Record& record, const Names& consumed) {
    for (const auto& [key, member, owned] : view.members()) {
        const json::value& v = member->value();
        const Rule<Record>* rule = nullptr;
        for (const auto& r : rules)
            if (named(key, r.names)) rule = &r;
        if (!rule) {
            if (named(key, consumed)) continue;
            auto name = clean_text(member->key());
            // extra._uncoerced is ours (what a column could not take; the large lane's late fill
            // reads it): a member the vendor named so is kept inside it, under its own name.
            if (name == "_uncoerced") note_uncoerced(record.extra, name, v);
            else record.extra[name] = clean_value(v);
            continue;
        }
        bool bad = false;
        switch (rule->as) {
            case As::ignore: break;
            case As::text:
            case As::indexed_text: {
                auto c = rule->as == As::indexed_text ? to_indexed_text(v) : to_text(v);
                if (c.value) record.*(rule->text) = std::move(c.value);
                bad = c.bad;
                break;
            }
            case As::date: {
                auto c = to_date(v);
                if (c.value) record.*(rule->text) = std::move(c.value);
                bad = c.bad;
                break;
            }
            case As::integer:
            case As::integer32: {
                auto c = rule->as == As::integer32 ? to_integer32(v) : to_integer(v);
                if (c.value) record.*(rule->integer) = c.value;
                bad = c.bad;
                break;
            }
            case As::real: {
                auto c = to_real(v);
                if (c.value) record.*(rule->real) = c.value;
                bad = c.bad;
                break;
            }
            case As::attendee: {
                if constexpr (requires { record.estimated_attendee; }) {
                    auto c = to_text(v);
                    bad = c.bad;
                    if (!c.value) break;
                    auto range = parse_attendee_range(*c.value);
                    record.estimated_attendee = std::move(c.value);
                    if (range) {
                        record.attendee_min = range->min;
                        record.attendee_max = range->max;
                    }
                }
                break;
            }
        }
        if (!bad) continue;
        note_uncoerced(record.extra, member->key(), v);
        if constexpr (std::is_same_v<Record, DemandRecord>)
            if (auto field = envelope_field(*rule)) record.unusable_own.emplace_back(*field, clean_text(member->key()));
    }
}

}  // namespace

void fill(const View& view, EventRecord& record, const Names& consumed) {
    apply(view, event_rules(), record, consumed);
}

void fill(const View& view, DemandEventRecord& record) { apply(view, demand_event_rules(), record, {}); }

DemandRecord demand_row(const View& row, const DemandRecord* defaults) {
    DemandRecord r;
    apply(row, demand_rules(), r, {});
    if (defaults) fill_missing(r, *defaults);
    return r;
}

DemandRecord defaults_of(const json::object& envelope) {
    const auto& n = sent();
    View v(envelope);
    DemandRecord d;
    if (auto* x = v.find(n.demand_id); x && !x->is_structured()) d.demand_id = to_integer(*x).value;
    if (auto* x = v.find(n.hotel_code); x && !x->is_structured()) d.hotel_code = to_indexed_text(*x).value;
    if (auto* x = v.find(n.city); x && !x->is_structured()) d.city = to_indexed_text(*x).value;
    if (auto* x = v.find(n.country); x && !x->is_structured()) d.country = to_text(*x).value;
    if (d.hotel_code && *d.hotel_code == "0") d.hotel_code.reset();  // 0: a city-wide request
    for (auto* field : {&d.hotel_code, &d.city, &d.country})
        if (*field && (*field)->empty()) field->reset();  // "": none, on both lanes (the large one sends none so)
    return d;
}

bool sent_unusable(const json::object& extra, const Names& names) {
    const auto* kept = extra.if_contains("_uncoerced");
    if (!kept || !kept->is_object()) return false;
    for (const auto& member : kept->get_object())
        if (named(normalize_key(member.key()), names)) return true;
    return false;
}

void fill_missing(DemandRecord& row, const DemandRecord& defaults) {
    using F = EnvelopeField;
    if (!row.demand_id && !row.sent_unusable(F::demand_id)) row.demand_id = defaults.demand_id;
    if (!row.hotel_code && !row.sent_unusable(F::hotel_code)) row.hotel_code = defaults.hotel_code;
    if (!row.city && !row.sent_unusable(F::city)) row.city = defaults.city;
    if (!row.country && !row.sent_unusable(F::country)) row.country = defaults.country;
}

void merge_event(EventRecord& into, const EventRecord& from) {
    auto take = [](auto& a, const auto& b) {
        if (b) a = b;
    };
    take(into.name, from.name);
    take(into.category, from.category);
    take(into.sub_category, from.sub_category);
    take(into.description, from.description);
    take(into.start_date, from.start_date);
    take(into.end_date, from.end_date);
    take(into.estimated_attendee, from.estimated_attendee);
    take(into.attendee_min, from.attendee_min);
    take(into.attendee_max, from.attendee_max);
    take(into.venue, from.venue);
    take(into.address, from.address);
    take(into.city, from.city);
    take(into.state, from.state);
    take(into.zip, from.zip);
    take(into.country, from.country);
    take(into.region, from.region);
    take(into.lat, from.lat);
    take(into.lng, from.lng);
    take(into.status_code, from.status_code);
    for (const auto& m : from.extra) into.extra[m.key()] = m.value();
}

}  // namespace esr::payload
