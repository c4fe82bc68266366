#pragma once

// Which endpoint a request is for. The session computes it once, from the request target, when
// the header arrives; the handler acts on it and /metrics counts the request under it.

#include "esr/kind.hpp"

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace esr::http {

enum class Route { delivery, eventsinfo, eventimpact, hoteldemand, healthz, readyz, metrics, other };
inline constexpr std::size_t route_count = 8;

/// `target` is the request target as sent (path and query); `base_path` is --base-path. The
/// internal endpoints answer at the root and under the base path; deliveries only under it.
/// Anything else is Route::other (404). The method plays no part: a wrong one is the handler's
/// 405 on the route it named.
Route route_of(std::string_view target, std::string_view base_path);

/// The kind a delivery path names; nothing for the base path itself and for other routes.
std::optional<Kind> kind_of(Route route);

/// The name /metrics labels the route with. Inline, so that Metrics (below HTTP) can use it.
constexpr std::string_view to_string(Route route) {
    constexpr std::array<std::string_view, route_count> names{
        "delivery", "eventsinfo", "eventimpact", "hoteldemand", "healthz", "readyz", "metrics", "other"};
    return names[static_cast<std::size_t>(route)];
}

}  // namespace esr::http
