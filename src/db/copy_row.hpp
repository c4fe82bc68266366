#pragma once

// One row in COPY's text format, built field by field in one buffer that every row reuses: the
// large lane streams a city matrix's 182,500 rows through COPY, and libpqxx 6.4's stream_to turns
// each field of each row into strings of its own and escapes it a character at a time
// (TypedCopyEscaper, 14% of the daemon's CPU for a matrix under perf).

#include "number_text.hpp"

#include <pqxx/stream_to>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace esr::db {

class CopyRow {
public:
    void add(std::string_view v) {
        separate();
        std::size_t plain_from = 0;  // the run of characters since the last escaped one
        for (std::size_t i = 0; i < v.size(); ++i) {
            const char* escaped = escape(v[i]);
            if (!escaped) continue;
            out_.append(v.data() + plain_from, i - plain_from);
            out_ += escaped;
            plain_from = i + 1;
        }
        out_.append(v.data() + plain_from, v.size() - plain_from);
    }
    void add(std::int64_t v) { add_number(v); }
    void add(double v) { add_number(v); }  // the shortest text that reads back the same double
    template <class T>
    void add(const std::optional<T>& v) {
        v ? add(*v) : add_null();
    }
    void add_null() {
        separate();
        out_ += "\\N";
    }
    /// The row so far, without its line end.
    const std::string& text() const { return out_; }
    /// Empties the row for the next one, keeping the buffer.
    void clear() {
        out_.clear();
        fields_ = 0;
    }

private:
    static const char* escape(char ch) {
        switch (ch) {
            case '\\': return "\\\\";
            case '\t': return "\\t";
            case '\n': return "\\n";
            case '\r': return "\\r";
            default: return nullptr;
        }
    }
    template <class Number>
    void add_number(Number v) {
        separate();
        append_number(out_, v);
    }
    void separate() {
        if (fields_++ > 0) out_ += '\t';
    }
    std::string out_;
    std::size_t fields_ = 0;
};

}  // namespace esr::db

// stream_to escapes each field of the tuples it is given; a CopyRow is escaped already, so it goes
// through as it is: `stream << std::tie(row)` writes one line. (libpqxx 6.4 has no public call for
// a raw line on stream_to; this is how it passes its own nullptr_t fields through.)
template <>
inline std::string pqxx::internal::TypedCopyEscaper::operator()<esr::db::CopyRow>(const esr::db::CopyRow* row) const {
    return row->text();
}
