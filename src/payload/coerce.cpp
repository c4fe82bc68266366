// Coercions: sent JSON values to the typed columns' values, and text PostgreSQL accepts.
#include "coerce.hpp"
#include "esr/payload/extract.hpp"

#include <boost/json/serialize.hpp>

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

namespace esr::payload {
namespace json = boost::json;

std::string clean_text(std::string_view in) {
    static constexpr std::string_view replacement = "\xEF\xBF\xBD";
    std::string out;
    out.reserve(in.size());
    std::size_t i = 0;
    while (i < in.size()) {
        // A run of ASCII other than NUL, most text's all, goes in one append: a character at a time
        // was 2.3% of the daemon's CPU for 1 KB events (perf).
        std::size_t plain_end = i;
        while (plain_end < in.size() && static_cast<unsigned char>(in[plain_end]) - 1u < 0x7Fu) ++plain_end;
        out.append(in.data() + i, plain_end - i);
        i = plain_end;
        if (i == in.size()) break;
        auto c = static_cast<unsigned char>(in[i]);
        if (c == 0) {
            out += replacement;
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

Coerced<std::int64_t> to_integer32(const json::value& v) {
    auto c = to_integer(v);
    if (c.value && (*c.value < std::numeric_limits<std::int32_t>::min() ||
                    *c.value > std::numeric_limits<std::int32_t>::max()))
        return {std::nullopt, true};
    return c;
}

Coerced<double> to_real(const json::value& v) {
    switch (v.kind()) {
        case json::kind::null: return {};
        case json::kind::int64: return {static_cast<double>(v.get_int64())};
        case json::kind::uint64: return {static_cast<double>(v.get_uint64())};
        case json::kind::double_:
            // + 0.0 makes -0 into 0: equal in SQL, but a different value in a row, which would let
            // the order of two otherwise equal rows decide which one hotel_demand_latest keeps.
            if (std::isfinite(v.get_double())) return {v.get_double() + 0.0};
            return {std::nullopt, true};
        case json::kind::string: {
            auto s = std::string(trim(v.get_string()));
            if (s.empty()) return {};
            double d = 0;
            auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
            if (ec == std::errc{} && end == s.data() + s.size() && std::isfinite(d)) return {d + 0.0};
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

Coerced<std::string> to_indexed_text(const json::value& v) {
    auto c = to_text(v);
    if (c.value && c.value->size() > max_indexed_text_bytes) return {std::nullopt, true};
    return c;
}

Coerced<std::string> to_date(const json::value& v) {
    if (v.is_null()) return {};
    if (!v.is_string()) return {std::nullopt, true};
    if (trim(v.get_string()).empty()) return {};
    if (auto d = coerce_date(v.get_string())) return {d};
    return {std::nullopt, true};
}

}  // namespace esr::payload
