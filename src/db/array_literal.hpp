#pragma once

// PostgreSQL array literals ({"a",NULL,3}), built one element at a time: a batch's rows travel to
// a prepared statement as one text array per column and come out of unnest() as rows, in the same
// round trip as the statement (a COPY into a stage table takes two more).

#include "number_text.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace esr::db {

class ArrayLiteral {
public:
    void add(std::string_view v) {
        separate();
        out_ += '"';
        std::size_t plain_from = 0;  // appended in runs, not a character at a time
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (v[i] != '"' && v[i] != '\\') continue;
            out_.append(v.data() + plain_from, i - plain_from);
            out_ += '\\';
            plain_from = i;  // the quote or backslash itself starts the next run
        }
        out_.append(v.data() + plain_from, v.size() - plain_from);
        out_ += '"';
    }
    /// An empty string as NULL, for columns where none was given.
    void add_or_null(std::string_view v) { v.empty() ? add_null() : add(v); }
    void add(std::int64_t v) { add_number(v); }
    void add(double v) { add_number(v); }  // the shortest text that reads back the same double
    template <class T>
    void add(const std::optional<T>& v) {
        v ? add(*v) : add_null();
    }
    void add_null() {
        separate();
        out_ += "NULL";
    }
    std::string str() && { return std::move(out_) + '}'; }

private:
    template <class Number>
    void add_number(Number v) {
        separate();
        append_number(out_, v);
    }
    void separate() {
        if (out_.size() > 1) out_ += ',';
    }
    std::string out_ = "{";
};

}  // namespace esr::db
