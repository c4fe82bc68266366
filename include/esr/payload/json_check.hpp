#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace esr::payload {

struct JsonSyntaxError {
    std::size_t offset = 0;  // byte at which parsing failed
    std::string message;
};

/// Validates `body` as one complete JSON text without building a document.
std::optional<JsonSyntaxError> check_json(std::string_view body);

}  // namespace esr::payload
