#pragma once

#include <optional>
#include <string_view>

namespace esr {

/// The three payload kinds EventsShop sends, and what we keep when a body is none of them.
enum class Kind { unclassified, eventsinfo, eventimpact, hoteldemand };

std::string_view to_string(Kind kind);
std::optional<Kind> kind_from_string(std::string_view name);

}  // namespace esr
