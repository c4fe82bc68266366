// Classification (which kind a body is, by the shape of its records, not by one guessed key) and
// the Extractor that turns the records found into typed rows.
#include "classify.hpp"
#include "coerce.hpp"
#include "fill.hpp"
#include "vendor_fields.hpp"

#include <algorithm>
#include <map>
#include <memory>

namespace esr::payload {
namespace json = boost::json;

bool is_demand_row(const View& v) { return v.has_scalar(sent().demand_figures); }

KindMismatch mismatch(Kind found, std::string_view why, Kind declared) {
    return {found, declared,
            "the body looks like " + std::string(to_string(found)) + " (" + std::string(why) + "), not " +
                std::string(to_string(declared))};
}

namespace {

bool is_impact_row(const View& v) { return v.has_scalar(sent().impact_score) && v.find(sent().any_date); }
bool is_event(const View& v) { return v.has_scalar(sent().event_id) || v.has_scalar(sent().event_name); }

/// The member holding a per-date impact series ({"impact": [{"date": ..., "impactScore": ...}]}).
const json::array* impact_series(const View& v) {
    for (const auto& [key, member, owned] : v.members()) {
        if (!named(key, sent().impact_series) || !member->value().is_array()) continue;
        const auto& a = member->value().get_array();
        bool all = !a.empty() && std::all_of(a.begin(), a.end(), [](const json::value& e) {
            return e.is_object() && is_impact_row(View(e.get_object()));
        });
        if (all) return &a;
    }
    return nullptr;
}

bool is_record(const View& v) { return is_demand_row(v) || is_impact_row(v) || is_event(v) || impact_series(v); }

struct Candidate {
    const json::object* record;
    const json::object* envelope;  // the object around the array that held it, for defaults
};

// Demand rows are whatever objects with demand figures stand as array elements (or as the whole
// body), at any depth, even inside another record: exactly the objects extract_streaming() hands to
// its sink as they end. The envelope of each is the nearest object around its array.
void gather_demand_rows(const json::value& v, const json::object* envelope, bool element, std::vector<Candidate>& out) {
    if (v.is_object()) {
        const auto& o = v.get_object();
        for (const auto& m : o)
            if (m.value().is_structured()) gather_demand_rows(m.value(), &o, false, out);
        if (element && is_demand_row(View(o))) out.push_back({&o, envelope});  // inner rows first, as streamed
    } else if (v.is_array()) {
        for (const auto& e : v.get_array()) gather_demand_rows(e, envelope, true, out);
    }
}

// The other records: objects that look like records, not looking inside them, within a few levels
// of envelope. Demand rows that are array elements (or the body) are gather_demand_rows()'.
void gather(const json::value& v, const json::object* envelope, int depth, bool element, std::vector<Candidate>& out) {
    if (depth > 4) return;
    if (v.is_object()) {
        const auto& o = v.get_object();
        View view(o);
        if (is_record(view)) {
            if (!(element && is_demand_row(view))) out.push_back({&o, envelope});
            return;
        }
        for (const auto& m : o)
            if (m.value().is_structured()) gather(m.value(), &o, depth + 1, false, out);
    } else if (v.is_array()) {
        for (const auto& e : v.get_array()) gather(e, envelope, depth + 1, true, out);
    }
}

class Extractor {
public:
    explicit Extractor(Extraction& out) : out_(out) {}

    void event(const View& view, const Names& consumed) {
        const json::value* id = view.find(sent().event_id);
        auto c = id ? to_integer(*id) : Coerced<std::int64_t>{};
        if (!c.value) return;  // no usable key: the record stays in the raw body only
        EventRecord e;
        e.event_id = *c.value;
        fill(view, e, consumed);
        auto [it, fresh] = event_index_.try_emplace(e.event_id, out_.events.size());
        if (fresh) out_.events.push_back(std::move(e));
        else merge_event(out_.events[it->second], e);
    }

    void impact(std::optional<std::int64_t> event_id, const View& row) {
        const json::value* d = row.find(sent().any_date);
        auto date = d ? to_date(*d) : Coerced<std::string>{};
        if (!event_id || !date.value) return;
        const json::value* s = nullptr;
        for (const auto& [key, member, owned] : row.members())
            if (named(key, sent().impact_score) && !member->value().is_structured()) s = &member->value();
        ImpactRecord r{*event_id, *date.value, s ? to_real(*s).value : std::nullopt};
        auto [it, fresh] = impact_index_.try_emplace({r.event_id, r.impact_date}, out_.impacts.size());
        if (fresh) out_.impacts.push_back(std::move(r));
        else out_.impacts[it->second] = std::move(r);  // the later row of one body wins
    }

    void demand(const View& row, const json::object* envelope) {
        out_.demand.push_back(demand_row(row, envelope ? &envelope_defaults(*envelope) : nullptr));
    }

    void demand_event(const View& row, const json::object* envelope) {
        DemandEventRecord r;
        fill(row, r);
        // The envelope's demandId for a record that has none; one it sent but could not use (kept
        // under extra._uncoerced) is its own all the same.
        if (envelope && !r.demand_id && !sent_unusable(r.extra, sent().demand_id))
            r.demand_id = envelope_defaults(*envelope).demand_id;
        out_.demand_events.push_back(std::move(r));
        event(row, sent().any_date);  // the event itself, without its occurrence date
    }

    /// The envelopes seen so far may be freed (their element is done with): their addresses may
    /// come back as other objects.
    void forget_envelopes() { envelope_defaults_.clear(); }

private:
    const DemandRecord& envelope_defaults(const json::object& envelope) {
        auto [it, fresh] = envelope_defaults_.try_emplace(&envelope);
        if (fresh) it->second = defaults_of(envelope);
        return it->second;
    }

    Extraction& out_;
    std::map<const json::object*, DemandRecord> envelope_defaults_;
    std::map<std::int64_t, std::size_t> event_index_;
    std::map<std::pair<std::int64_t, std::string>, std::size_t> impact_index_;
};

std::string describe(std::size_t n, std::string_view what) {
    return std::to_string(n) + " record" + (n == 1 ? "" : "s") + " " + std::string(what);
}

std::optional<std::int64_t> event_id_of(const View& v) {
    auto id = v.find(sent().event_id);
    return id ? to_integer(*id).value : std::nullopt;
}

}  // namespace

bool holds_records(const json::value& element, int depth) {
    if (!element.is_structured()) return false;
    std::vector<Candidate> found;
    gather(element, nullptr, depth, true, found);
    return !found.empty();
}

namespace {

struct Counts {
    std::size_t demand = 0, impact = 0, events = 0;
};

void count(const std::vector<Candidate>& candidates, Counts& n) {
    for (const auto& c : candidates) {
        View v(*c.record);
        if (is_demand_row(v)) ++n.demand;
        else if (is_impact_row(v) || impact_series(v)) ++n.impact;
        else if (is_event(v)) ++n.events;
    }
}

void extract_candidates(Extractor& x, Kind kind, const std::vector<Candidate>& candidates) {
    // An impact row's event keeps its date and score out of extra: they are the impact's.
    static const Names impact_row_fields = [] {
        Names c = sent().any_date;
        c.insert(c.end(), sent().impact_score.begin(), sent().impact_score.end());
        return c;
    }();
    for (const auto& c : candidates) {
        View v(*c.record);
        switch (kind) {
            case Kind::hoteldemand:
                if (is_demand_row(v)) x.demand(v, c.envelope);
                else if (is_event(v)) x.demand_event(v, c.envelope);
                break;
            case Kind::eventimpact:
                if (const json::array* series = impact_series(v)) {
                    x.event(v, sent().impact_series);
                    auto id = event_id_of(v);
                    for (const auto& row : *series) x.impact(id, View(row.get_object()));
                } else if (is_impact_row(v)) {
                    x.event(v, impact_row_fields);
                    x.impact(event_id_of(v), v);
                } else if (is_event(v)) {
                    x.event(v, {});
                }
                break;
            case Kind::eventsinfo:
                if (is_event(v)) x.event(v, {});
                break;
            case Kind::unclassified: break;
        }
    }
}

}  // namespace

struct RecordCollector::State {
    std::optional<Kind> declared;
    Counts counts;
    Extraction out;
    Extractor x{out};
};

RecordCollector::RecordCollector(std::optional<Kind> declared) : state_(std::make_unique<State>()) {
    state_->declared = declared;
}

RecordCollector::~RecordCollector() = default;

bool RecordCollector::add_element(const json::value& element, int depth) {
    if (!state_->declared || !element.is_structured()) return false;
    std::vector<Candidate> candidates;
    gather(element, nullptr, depth, true, candidates);
    count(candidates, state_->counts);
    extract_candidates(state_->x, *state_->declared, candidates);
    state_->x.forget_envelopes();  // they lived in this element, which goes now
    return true;
}

std::variant<Extraction, KindMismatch> RecordCollector::finish(const json::value& rest,
                                                              std::optional<std::size_t> streamed_demand) {
    auto& s = *state_;
    std::vector<Candidate> candidates;
    if (!streamed_demand) gather_demand_rows(rest, nullptr, true, candidates);
    gather(rest, nullptr, 0, true, candidates);
    count(candidates, s.counts);
    s.counts.demand += streamed_demand.value_or(0);

    Extraction& out = s.out;
    out.streamed_demand = streamed_demand.value_or(0);
    if (rest.is_object()) out.demand_defaults = defaults_of(rest.get_object());
    if (s.counts.demand > 0) {
        out.kind = Kind::hoteldemand;
        out.reason = describe(s.counts.demand, "with demand figures (absoluteDemand, relativeDemand, eventsRegistered)");
    } else if (s.counts.impact > 0) {
        out.kind = Kind::eventimpact;
        out.reason = describe(s.counts.impact, "with an impact score per date");
    } else if (s.counts.events > 0) {
        out.kind = Kind::eventsinfo;
        out.reason = describe(s.counts.events, "with event fields and no impact or demand figures");
    } else {
        out.reason = "no records with event ids, impact scores or demand figures";
    }
    if (s.declared && out.kind != Kind::unclassified && out.kind != *s.declared)
        return mismatch(out.kind, out.reason, *s.declared);
    if (s.declared) out.kind = *s.declared;  // an unrecognisable body takes the path's kind
    extract_candidates(s.x, out.kind, candidates);
    return std::move(out);
}

std::variant<Extraction, KindMismatch> extract_document(const json::value& document, std::optional<Kind> declared,
                                                        std::optional<std::size_t> streamed_demand) {
    return RecordCollector(declared).finish(document, streamed_demand);
}

std::variant<Extraction, KindMismatch> extract(const json::value& document, std::optional<Kind> declared) {
    return extract_document(document, declared, std::nullopt);
}

}  // namespace esr::payload
