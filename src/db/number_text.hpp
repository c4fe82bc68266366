#pragma once

// Numbers as text for PostgreSQL's array literals.

#include <charconv>
#include <string>

namespace esr::db {

/// Appends `v` in the shortest text that reads back as the same value (for a double too).
template <class Number>
void append_number(std::string& out, Number v) {
    char digits[32];
    auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
    out.append(digits, end);
}

}  // namespace esr::db
