#include "esr/payload/extract.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>

#include <algorithm>
#include <limits>
#include <charconv>
#include <cmath>
#include <map>
#include <unordered_map>

namespace esr::payload {
namespace json = boost::json;

// ---------------------------------------------------------------------------------------------
// Parsing and coercion

std::variant<json::value, JsonSyntaxError> parse_json(std::string_view body) {
    json::parse_options options;
    options.max_depth = 512;  // a deeper document is hostile, not data
    options.allow_invalid_utf8 = true;
    json::stream_parser parser({}, options);
    boost::system::error_code ec;
    std::size_t consumed = parser.write_some(body.data(), body.size(), ec);
    if (!ec && consumed < body.size()) ec = json::error::extra_data;
    if (!ec) {
        parser.finish(ec);
        if (ec) consumed = body.size();
    }
    if (ec) return JsonSyntaxError{consumed, ec.message()};
    return parser.release();
}

std::string clean_text(std::string_view in) {
    static constexpr std::string_view replacement = "\xEF\xBF\xBD";
    std::string out;
    out.reserve(in.size());
    std::size_t i = 0;
    while (i < in.size()) {
        auto c = static_cast<unsigned char>(in[i]);
        if (c == 0) {
            out += replacement;
            ++i;
            continue;
        }
        if (c < 0x80) {
            out += static_cast<char>(c);
            ++i;
            continue;
        }
        std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
        bool valid = len != 0 && c <= 0xF4 && i + len <= in.size();
        for (std::size_t k = 1; valid && k < len; ++k)
            valid = (static_cast<unsigned char>(in[i + k]) & 0xC0) == 0x80;
        if (valid && len >= 3) {
            auto c1 = static_cast<unsigned char>(in[i + 1]);
            if (c == 0xE0 && c1 < 0xA0) valid = false;  // overlong
            if (c == 0xED && c1 >= 0xA0) valid = false;  // UTF-16 surrogate
            if (c == 0xF0 && c1 < 0x90) valid = false;  // overlong
            if (c == 0xF4 && c1 >= 0x90) valid = false;  // beyond U+10FFFF
        }
        if (!valid) {
            out += replacement;
            ++i;
            continue;
        }
        out.append(in.substr(i, len));
        i += len;
    }
    return out;
}

std::string normalize_key(std::string_view key) {
    std::string out;
    out.reserve(key.size());
    for (char c : key) {
        if (c == '_' || c == '-' || c == ' ' || c == '.') continue;
        out += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;  // ASCII only: keys are ASCII names
    }
    return out;
}

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
    s = trim(s);
    std::string digits;
    for (char c : s)
        if (c != ',') digits += c;  // "1,000"
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc{} || digits.empty() || end != digits.data() + digits.size()) return std::nullopt;
    return v;
}

}  // namespace

std::optional<std::string> coerce_date(std::string_view text) {
    text = trim(text);
    if (text.size() < 10) return std::nullopt;
    std::string_view d = text.substr(0, 10);
    if (d[4] != '-' || d[7] != '-') return std::nullopt;
    if (text.size() > 10 && text[10] != 'T' && text[10] != ' ') return std::nullopt;
    auto num = [](std::string_view s) -> int {
        int v = 0;
        for (char c : s) {
            if (c < '0' || c > '9') return -1;
            v = v * 10 + (c - '0');
        }
        return v;
    };
    int y = num(d.substr(0, 4)), m = num(d.substr(5, 2)), day = num(d.substr(8, 2));
    if (y < 1 || m < 1 || m > 12 || day < 1) return std::nullopt;
    static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (day > days[m - 1] + (m == 2 && leap ? 1 : 0)) return std::nullopt;
    return std::string(d);
}

std::optional<AttendeeRange> parse_attendee_range(std::string_view text) {
    text = trim(text);
    if (text.empty()) return std::nullopt;
    if (text.front() == '<' || text.front() == '>') {
        auto n = parse_int(text.substr(text.size() > 1 && text[1] == '=' ? 2 : 1));
        if (!n) return std::nullopt;
        return text.front() == '<' ? AttendeeRange{std::nullopt, n} : AttendeeRange{n, std::nullopt};
    }
    if (text.back() == '+') {
        auto n = parse_int(text.substr(0, text.size() - 1));
        if (!n) return std::nullopt;
        return AttendeeRange{n, std::nullopt};
    }
    if (auto dash = text.find('-', 1); dash != std::string_view::npos) {
        auto lo = parse_int(text.substr(0, dash));
        auto hi = parse_int(text.substr(dash + 1));
        if (!lo || !hi || *lo > *hi) return std::nullopt;
        return AttendeeRange{lo, hi};
    }
    auto n = parse_int(text);
    if (!n) return std::nullopt;
    return AttendeeRange{n, n};
}

namespace {

// A copy that PostgreSQL's jsonb accepts: clean strings and keys, no non-finite numbers.
json::value clean_value(const json::value& v) {
    switch (v.kind()) {
        case json::kind::string: return json::value(clean_text(v.get_string()));
        case json::kind::double_:
            return std::isfinite(v.get_double()) ? v : json::value("non-finite number");
        case json::kind::array: {
            json::array a;
            a.reserve(v.get_array().size());
            for (const auto& e : v.get_array()) a.push_back(clean_value(e));
            return a;
        }
        case json::kind::object: {
            json::object o;
            for (const auto& m : v.get_object()) o[clean_text(m.key())] = clean_value(m.value());
            return o;
        }
        default: return v;
    }
}

template <class T>
struct Coerced {
    std::optional<T> value;
    bool bad = false;  // present, not null, and not usable as T
};

Coerced<std::int64_t> to_integer(const json::value& v) {
    switch (v.kind()) {
        case json::kind::null: return {};
        case json::kind::int64: return {v.get_int64()};
        case json::kind::uint64:
            if (v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) return {static_cast<std::int64_t>(v.get_uint64())};
            return {std::nullopt, true};
        case json::kind::double_: {
            double d = v.get_double();
            if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.2e18) return {static_cast<std::int64_t>(d)};
            return {std::nullopt, true};
        }
        case json::kind::string: {
            auto s = trim(v.get_string());
            if (s.empty()) return {};
            if (auto n = parse_int(s)) return {n};
            return {std::nullopt, true};
        }
        default: return {std::nullopt, true};
    }
}

Coerced<double> to_real(const json::value& v) {
    switch (v.kind()) {
        case json::kind::null: return {};
        case json::kind::int64: return {static_cast<double>(v.get_int64())};
        case json::kind::uint64: return {static_cast<double>(v.get_uint64())};
        case json::kind::double_:
            if (std::isfinite(v.get_double())) return {v.get_double()};
            return {std::nullopt, true};
        case json::kind::string: {
            auto s = std::string(trim(v.get_string()));
            if (s.empty()) return {};
            double d = 0;
            auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
            if (ec == std::errc{} && end == s.data() + s.size() && std::isfinite(d)) return {d};
            return {std::nullopt, true};
        }
        default: return {std::nullopt, true};
    }
}

Coerced<std::string> to_text(const json::value& v) {
    switch (v.kind()) {
        case json::kind::null: return {};
        case json::kind::string: return {clean_text(v.get_string())};
        case json::kind::bool_: return {std::string(v.get_bool() ? "true" : "false")};
        case json::kind::int64:
        case json::kind::uint64:
        case json::kind::double_: return {json::serialize(v)};
        default: return {std::nullopt, true};
    }
}

Coerced<std::string> to_date(const json::value& v) {
    if (v.is_null()) return {};
    if (!v.is_string()) return {std::nullopt, true};
    if (trim(v.get_string()).empty()) return {};
    if (auto d = coerce_date(v.get_string())) return {d};
    return {std::nullopt, true};
}

// ---------------------------------------------------------------------------------------------
// Field rules: which sent names (normalized) fill which column, with which coercion.

// integer32: the column is PostgreSQL's `integer`; a value beyond it would fail the whole statement,
// so it is NULL in the column and kept under extra["_uncoerced"] like any value that does not fit.
enum class As { text, integer, integer32, real, date, attendee, ignore };

template <class Record>
struct Rule {
    std::vector<std::string_view> names;
    As as;
    std::optional<std::string> Record::*text = nullptr;
    std::optional<std::int64_t> Record::*integer = nullptr;
    std::optional<double> Record::*real = nullptr;
};

template <class Record>
Rule<Record> text(std::vector<std::string_view> n, std::optional<std::string> Record::*m) {
    return {std::move(n), As::text, m};
}
template <class Record>
Rule<Record> date(std::vector<std::string_view> n, std::optional<std::string> Record::*m) {
    return {std::move(n), As::date, m};
}
template <class Record>
Rule<Record> integer(std::vector<std::string_view> n, std::optional<std::int64_t> Record::*m) {
    return {std::move(n), As::integer, nullptr, m};
}
template <class Record>
Rule<Record> integer32(std::vector<std::string_view> n, std::optional<std::int64_t> Record::*m) {
    return {std::move(n), As::integer32, nullptr, m};
}
template <class Record>
Rule<Record> real(std::vector<std::string_view> n, std::optional<double> Record::*m) {
    return {std::move(n), As::real, nullptr, nullptr, m};
}
template <class Record>
Rule<Record> attendee(std::vector<std::string_view> n) {
    return {std::move(n), As::attendee};
}
template <class Record>
Rule<Record> ignore(std::vector<std::string_view> n) {
    return {std::move(n), As::ignore};
}

// Names that carry an event id, an impact score, demand figures: what classification looks for.
const std::vector<std::string_view> event_id_names{"eventid", "eventsid"};
const std::vector<std::string_view> event_name_names{"eventname", "eventtitle"};
const std::vector<std::string_view> impact_score_names{"impactscore", "impact", "eventimpact", "impactvalue"};
const std::vector<std::string_view> impact_series_names{"impact", "impacts", "impactscores", "dailyimpact", "eventimpact"};
const std::vector<std::string_view> date_names{"date", "impactdate", "staydate", "demanddate", "eventdate", "day"};
const std::vector<std::string_view> demand_figure_names{"absolutedemand", "relativedemand", "eventsregistered",
                                                        "numberofevents", "eventcount"};

const std::vector<Rule<EventRecord>>& event_rules() {
    static const std::vector<Rule<EventRecord>> rules{
        ignore<EventRecord>(event_id_names),  // read separately: it is the key
        text({"eventname", "eventtitle", "name", "title"}, &EventRecord::name),
        text({"category", "categoryid", "categorycode"}, &EventRecord::category),
        text({"subcategory", "subcategoryid", "subcategorycode"}, &EventRecord::sub_category),
        text({"description", "eventdescription"}, &EventRecord::description),
        date({"startdate", "eventstartdate", "start"}, &EventRecord::start_date),
        date({"enddate", "eventenddate", "end"}, &EventRecord::end_date),
        attendee<EventRecord>({"estimatedattendee", "estimatedattendees", "estimatedattendance", "attendance",
                               "expectedattendance"}),
        text({"venue", "venuename"}, &EventRecord::venue),
        text({"address", "venueaddress"}, &EventRecord::address),
        text({"city"}, &EventRecord::city),
        text({"state", "province"}, &EventRecord::state),
        text({"zip", "zipcode", "postalcode", "postcode"}, &EventRecord::zip),
        text({"country"}, &EventRecord::country),
        text({"region"}, &EventRecord::region),
        real({"lat", "latitude"}, &EventRecord::lat),
        real({"lng", "lon", "long", "longitude"}, &EventRecord::lng),
        integer32({"eventstatuscode", "statuscode", "eventstatus"}, &EventRecord::status_code),
    };
    return rules;
}

const std::vector<Rule<DemandRecord>>& demand_rules() {
    static const std::vector<Rule<DemandRecord>> rules{
        integer({"demandid"}, &DemandRecord::demand_id),
        text({"hotelcode", "hotelid", "propertyid", "propertycode"}, &DemandRecord::hotel_code),
        text({"hotelname", "propertyname"}, &DemandRecord::hotel_name),
        text({"city"}, &DemandRecord::city),
        text({"country"}, &DemandRecord::country),
        date({"date", "staydate", "demanddate", "day"}, &DemandRecord::stay_date),
        integer({"absolutedemand"}, &DemandRecord::absolute_demand),
        real({"relativedemand"}, &DemandRecord::relative_demand),
        integer32({"eventsregistered", "numberofevents", "eventcount"}, &DemandRecord::events_registered),
    };
    return rules;
}

const std::vector<Rule<DemandEventRecord>>& demand_event_rules() {
    static const std::vector<Rule<DemandEventRecord>> rules{
        integer({"demandid"}, &DemandEventRecord::demand_id),
        integer(event_id_names, &DemandEventRecord::event_id),
        text({"eventname", "eventtitle", "name", "title"}, &DemandEventRecord::event_name),
        text({"venue", "venuename"}, &DemandEventRecord::venue),
        text({"category", "categoryid"}, &DemandEventRecord::category),
        date({"date", "eventdate", "day"}, &DemandEventRecord::event_date),
        attendee<DemandEventRecord>({"estimatedattendee", "estimatedattendees", "estimatedattendance",
                                     "attendance", "expectedattendance"}),
    };
    return rules;
}

bool named(std::string_view key, const std::vector<std::string_view>& names) {
    return std::find(names.begin(), names.end(), key) != names.end();
}

struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

/// The normalized spelling of a key, folded once per thread: records repeat the same few keys
/// thousands of times. Nothing when the cache is full (then the caller folds the key itself).
std::optional<std::string_view> cached_normalized(std::string_view key) {
    thread_local std::unordered_map<std::string, std::string, KeyHash, std::equal_to<>> seen;
    if (auto it = seen.find(key); it != seen.end()) return std::string_view(it->second);
    if (seen.size() >= 4096) return std::nullopt;  // never cleared: views of it may be alive
    return std::string_view(seen.emplace(std::string(key), normalize_key(key)).first->second);
}

/// Looks a record's members up by normalized name.
class View {
public:
    struct Member {
        std::string_view key;  // normalized
        const json::key_value_pair* member;
        std::string owned;  // the normalized key, when the cache could not hold it
    };

    explicit View(const json::object& o) : object_(o) {
        keys_.reserve(o.size());  // no reallocation: `key` may point into `owned`
        for (const auto& m : o) {
            auto& entry = keys_.emplace_back(Member{{}, &m, {}});
            if (auto k = cached_normalized(m.key())) {
                entry.key = *k;
            } else {
                entry.owned = normalize_key(m.key());
                entry.key = entry.owned;
            }
        }
    }
    const json::value* find(const std::vector<std::string_view>& names) const {
        for (const auto& m : keys_)
            if (named(m.key, names)) return &m.member->value();
        return nullptr;
    }
    bool has_scalar(const std::vector<std::string_view>& names) const {
        for (const auto& m : keys_)
            if (named(m.key, names) && !m.member->value().is_structured()) return true;
        return false;
    }
    const std::vector<Member>& members() const { return keys_; }
    const json::object& object() const { return object_; }

private:
    const json::object& object_;
    std::vector<Member> keys_;
};

void note_uncoerced(json::object& extra, std::string_view key, const json::value& v) {
    auto& bad = extra["_uncoerced"];
    if (!bad.is_object()) bad = json::object{};
    bad.get_object()[clean_text(key)] = clean_value(v);
}

/// Fills `record` from `view` by `rules`; members no rule takes and not in `consumed` go to extra.
template <class Record>
void apply(const View& view, const std::vector<Rule<Record>>& rules, Record& record,
           const std::vector<std::string_view>& consumed = {}) {
    for (const auto& [key, member, owned] : view.members()) {
        const json::value& v = member->value();
        const Rule<Record>* rule = nullptr;
        for (const auto& r : rules)
            if (named(key, r.names)) rule = &r;
        if (!rule) {
            if (!named(key, consumed)) record.extra[clean_text(member->key())] = clean_value(v);
            continue;
        }
        bool bad = false;
        switch (rule->as) {
            case As::ignore: break;
            case As::text: {
                auto c = to_text(v);
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
                auto c = to_integer(v);
                if (c.value && rule->as == As::integer32 &&
                    (*c.value < std::numeric_limits<std::int32_t>::min() ||
                     *c.value > std::numeric_limits<std::int32_t>::max()))
                    c = {std::nullopt, true};
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
        if (bad) note_uncoerced(record.extra, member->key(), v);
    }
}

// ---------------------------------------------------------------------------------------------
// Shapes

bool is_demand_row(const View& v) { return v.has_scalar(demand_figure_names); }
bool is_impact_row(const View& v) { return v.has_scalar(impact_score_names) && v.find(date_names); }
bool is_event(const View& v) { return v.has_scalar(event_id_names) || v.has_scalar(event_name_names); }

/// The member holding a per-date impact series ({"impact": [{"date": ..., "impactScore": ...}]}).
const json::array* impact_series(const View& v) {
    for (const auto& [key, member, owned] : v.members()) {
        if (!named(key, impact_series_names) || !member->value().is_array()) continue;
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

// What an envelope says for every demand row that does not say otherwise: only its own scalars
// (its arrays are the records themselves).
DemandRecord defaults_of(const json::object& envelope) {
    View v(envelope);
    DemandRecord d;
    if (auto* x = v.find({"demandid"}); x && !x->is_structured()) d.demand_id = to_integer(*x).value;
    if (auto* x = v.find({"hotelcode", "hotelid", "propertyid", "propertycode"}); x && !x->is_structured())
        d.hotel_code = to_text(*x).value;
    if (auto* x = v.find({"city"}); x && !x->is_structured()) d.city = to_text(*x).value;
    if (auto* x = v.find({"country"}); x && !x->is_structured()) d.country = to_text(*x).value;
    if (d.hotel_code && *d.hotel_code == "0") d.hotel_code.reset();  // 0: a city-wide request
    return d;
}

void fill_missing(DemandRecord& row, const DemandRecord& defaults) {
    if (!row.demand_id) row.demand_id = defaults.demand_id;
    if (!row.hotel_code) row.hotel_code = defaults.hotel_code;
    if (!row.city) row.city = defaults.city;
    if (!row.country) row.country = defaults.country;
}

DemandRecord demand_row(const View& row, const DemandRecord* defaults) {
    DemandRecord r;
    apply(row, demand_rules(), r);
    if (defaults) fill_missing(r, *defaults);
    return r;
}

class Extractor {
public:
    explicit Extractor(Extraction& out) : out_(out) {}

    void event(const View& view, const std::vector<std::string_view>& consumed) {
        const json::value* id = view.find(event_id_names);
        auto c = id ? to_integer(*id) : Coerced<std::int64_t>{};
        if (!c.value) return;  // no usable key: the record stays in the raw body only
        EventRecord e;
        e.event_id = *c.value;
        apply(view, event_rules(), e, consumed);
        auto [it, fresh] = event_index_.try_emplace(e.event_id, out_.events.size());
        if (fresh) out_.events.push_back(std::move(e));
        else merge_event(out_.events[it->second], e);
    }

    void impact(std::optional<std::int64_t> event_id, const View& row) {
        const json::value* d = row.find(date_names);
        auto date = d ? to_date(*d) : Coerced<std::string>{};
        if (!event_id || !date.value) return;
        const json::value* s = nullptr;
        for (const auto& [key, member, owned] : row.members())
            if (named(key, impact_score_names) && !member->value().is_structured()) s = &member->value();
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
        if (envelope) r.demand_id = envelope_defaults(*envelope).demand_id;  // the row's own wins below
        apply(row, demand_event_rules(), r);
        out_.demand_events.push_back(std::move(r));
        event(row, date_names);  // the event itself, without its occurrence date
    }

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

/// `streamed_demand`: how many demand rows the streaming parser already handed on; it takes every
/// one out of `document` as it ends, so there is none left to look for.
Extraction extract_impl(const json::value& document, std::optional<Kind> declared,
                        std::optional<std::size_t> streamed_demand) {
    std::vector<Candidate> candidates;
    if (!streamed_demand) gather_demand_rows(document, nullptr, true, candidates);
    gather(document, nullptr, 0, true, candidates);

    std::size_t demand = streamed_demand.value_or(0), impact = 0, events = 0;
    for (const auto& c : candidates) {
        View v(*c.record);
        if (is_demand_row(v)) ++demand;
        else if (is_impact_row(v) || impact_series(v)) ++impact;
        else if (is_event(v)) ++events;
    }

    Extraction out;
    out.streamed_demand = streamed_demand.value_or(0);
    if (document.is_object()) out.demand_defaults = defaults_of(document.get_object());
    if (demand > 0) {
        out.kind = Kind::hoteldemand;
        out.reason = describe(demand, "with demand figures (absoluteDemand, relativeDemand, eventsRegistered)");
    } else if (impact > 0) {
        out.kind = Kind::eventimpact;
        out.reason = describe(impact, "with an impact score per date");
    } else if (events > 0) {
        out.kind = Kind::eventsinfo;
        out.reason = describe(events, "with event fields and no impact or demand figures");
    } else {
        out.reason = "no records with event ids, impact scores or demand figures";
    }
    if (declared && out.kind != Kind::unclassified && out.kind != *declared) {
        throw KindMismatch("the body looks like " + std::string(to_string(out.kind)) + " (" + out.reason +
                           "), not " + std::string(to_string(*declared)));
    }
    if (declared) out.kind = *declared;

    Extractor x(out);
    for (const auto& c : candidates) {
        View v(*c.record);
        switch (out.kind) {
            case Kind::hoteldemand:
                if (is_demand_row(v)) x.demand(v, c.envelope);
                else if (is_event(v)) x.demand_event(v, c.envelope);
                break;
            case Kind::eventimpact:
                if (const json::array* series = impact_series(v)) {
                    auto consumed = impact_series_names;
                    x.event(v, consumed);
                    auto id = v.find(event_id_names);
                    for (const auto& row : *series)
                        x.impact(id ? to_integer(*id).value : std::nullopt, View(row.get_object()));
                } else if (is_impact_row(v)) {
                    std::vector<std::string_view> consumed = date_names;
                    consumed.insert(consumed.end(), impact_score_names.begin(), impact_score_names.end());
                    x.event(v, consumed);
                    auto id = v.find(event_id_names);
                    x.impact(id ? to_integer(*id).value : std::nullopt, v);
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
    return out;
}

/// Builds the document as the parser goes, except demand rows: each is handed to the sink when its
/// object ends (if it is an array element or the whole body) and left out of the document.
class StreamingBuilder {
public:
    // Hostile-document limits, enforced by the parser as it goes (a clear 400, never a large
    // allocation): far above any record EventsShop documents. Arrays are not limited: a year-long
    // city matrix is one array of 100,000+ rows.
    constexpr static std::size_t max_object_size = 10'000;  // members of one object
    constexpr static std::size_t max_array_size = std::size_t(-1);
    constexpr static std::size_t max_key_size = 1024;
    constexpr static std::size_t max_string_size = 1 << 20;
    using ec = boost::system::error_code;

    StreamingBuilder(std::optional<Kind> declared, DemandRowSink& sink, json::storage_ptr storage)
        : declared_(declared), sink_(sink), storage_(std::move(storage)), root_(storage_) {}

    bool on_document_begin(ec&) { return true; }
    bool on_document_end(ec&) { return true; }
    bool on_object_begin(ec&) {
        stack_.push_back({json::object(storage_), {}});
        return true;
    }
    bool on_object_end(std::size_t, ec&) {
        json::value done = std::move(stack_.back().value);
        stack_.pop_back();
        if (stack_.empty() || stack_.back().value.is_array()) {
            View view(done.get_object());
            if (is_demand_row(view)) {
                emit(view);
                return true;
            }
        }
        attach(std::move(done));
        return true;
    }
    bool on_array_begin(ec&) {
        stack_.push_back({json::array(storage_), {}});
        return true;
    }
    bool on_array_end(std::size_t, ec&) {
        json::value done = std::move(stack_.back().value);
        stack_.pop_back();
        attach(std::move(done));
        return true;
    }
    bool on_key_part(std::string_view s, std::size_t, ec&) {
        text_.append(s);
        return true;
    }
    bool on_key(std::string_view s, std::size_t, ec&) {
        text_.append(s);
        stack_.back().key = std::move(text_);
        text_.clear();
        return true;
    }
    bool on_string_part(std::string_view s, std::size_t, ec&) {
        text_.append(s);
        return true;
    }
    bool on_string(std::string_view s, std::size_t, ec&) {
        text_.append(s);
        attach(json::string(text_, storage_));
        text_.clear();
        return true;
    }
    bool on_number_part(std::string_view, ec&) { return true; }
    bool on_int64(std::int64_t v, std::string_view, ec&) { return attach(json::value(v, storage_)); }
    bool on_uint64(std::uint64_t v, std::string_view, ec&) { return attach(json::value(v, storage_)); }
    bool on_double(double v, std::string_view, ec&) { return attach(json::value(v, storage_)); }
    bool on_bool(bool v, ec&) { return attach(json::value(v, storage_)); }
    bool on_null(ec&) { return attach(json::value(nullptr, storage_)); }
    bool on_comment_part(std::string_view, ec&) { return true; }
    bool on_comment(std::string_view, ec&) { return true; }

    json::value& document() { return root_; }
    std::size_t streamed() const { return streamed_; }
    std::size_t duplicate_keys() const { return duplicate_keys_; }

private:
    struct Frame {
        json::value value;  // an object or an array under construction
        std::string key;    // an object's member waiting for its value
    };

    bool attach(json::value v) {
        if (stack_.empty()) {
            root_ = std::move(v);
        } else if (auto* o = stack_.back().value.if_object()) {
            // One lookup per member; a repeated key: the last one wins in the document.
            if (!o->insert_or_assign(stack_.back().key, std::move(v)).second) ++duplicate_keys_;
        } else {
            stack_.back().value.get_array().push_back(std::move(v));
        }
        return true;
    }

    void emit(const View& row) {
        if (declared_ && *declared_ != Kind::hoteldemand) {
            throw KindMismatch("the body looks like hoteldemand (records with demand figures: absoluteDemand, "
                               "relativeDemand, eventsRegistered), not " +
                               std::string(to_string(*declared_)));
        }
        // The nearest object around the row's array: its members so far are the envelope.
        const json::object* envelope = nullptr;
        for (auto it = stack_.rbegin(); it != stack_.rend() && !envelope; ++it) envelope = it->value.if_object();
        DemandRecord defaults;
        if (envelope) defaults = defaults_of(*envelope);
        sink_.row(demand_row(row, envelope ? &defaults : nullptr));
        ++streamed_;
    }

    std::optional<Kind> declared_;
    DemandRowSink& sink_;
    std::vector<Frame> stack_;
    std::string text_;
    json::storage_ptr storage_;
    json::value root_;
    std::size_t streamed_ = 0;
    std::size_t duplicate_keys_ = 0;
};

class CollectRows : public DemandRowSink {
public:
    void row(DemandRecord&& r) override { rows.push_back(std::move(r)); }
    std::vector<DemandRecord> rows;
};

}  // namespace

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

Extraction extract(const json::value& document, std::optional<Kind> declared) {
    return extract_impl(document, declared, std::nullopt);
}

std::variant<Extraction, JsonSyntaxError> extract_streaming(std::string_view body, std::optional<Kind> declared,
                                                             DemandRowSink& sink, json::storage_ptr storage) {
    json::parse_options options;
    options.max_depth = 512;  // a deeper document is hostile, not data
    options.allow_invalid_utf8 = true;
    json::basic_parser<StreamingBuilder> parser(options, declared, sink, std::move(storage));
    boost::system::error_code ec;
    std::size_t consumed = parser.write_some(false, body.data(), body.size(), ec);
    if (!ec && consumed < body.size()) ec = json::error::extra_data;
    if (ec) return JsonSyntaxError{consumed, ec.message()};
    auto x = extract_impl(parser.handler().document(), declared, parser.handler().streamed());
    x.duplicate_keys = parser.handler().duplicate_keys();
    return x;
}

std::variant<Extraction, JsonSyntaxError> extract_body(std::string_view body, std::optional<Kind> declared) {
    CollectRows rows;
    // A small body's document lives in one arena, freed at once: far fewer malloc calls. (Not for
    // a large one: an arena never frees, and a streamed matrix drops its rows as it goes.)
    unsigned char buffer[8192];
    json::monotonic_resource arena(buffer, sizeof buffer);
    auto result = extract_streaming(body, declared, rows, &arena);
    if (auto* x = std::get_if<Extraction>(&result)) {
        for (auto& r : rows.rows) fill_missing(r, x->demand_defaults);
        x->demand = std::move(rows.rows);
        x->streamed_demand = 0;
    }
    return result;
}

}  // namespace esr::payload
