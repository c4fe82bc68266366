#include "esr/http/route.hpp"

namespace esr::http {

Route route_of(std::string_view target, std::string_view base_path) {
    std::string_view path = target.substr(0, target.find('?'));
    auto internal = [](std::string_view p) -> std::optional<Route> {
        if (p == "/healthz") return Route::healthz;
        if (p == "/readyz") return Route::readyz;
        if (p == "/metrics") return Route::metrics;
        return std::nullopt;
    };
    if (auto r = internal(path)) return *r;
    if (path.substr(0, base_path.size()) != base_path) return Route::other;
    std::string_view rest = path.substr(base_path.size());
    if (!rest.empty() && rest.front() != '/') return Route::other;  // "/eventsshopx" is not under "/eventsshop"
    if (rest.empty() || rest == "/") return Route::delivery;
    if (auto r = internal(rest)) return *r;
    rest.remove_prefix(1);
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    switch (kind_from_string(rest).value_or(Kind::unclassified)) {
        case Kind::eventsinfo: return Route::eventsinfo;
        case Kind::eventimpact: return Route::eventimpact;
        case Kind::hoteldemand: return Route::hoteldemand;
        case Kind::unclassified: break;  // not a path: only a classification's result
    }
    return Route::other;
}

std::optional<Kind> kind_of(Route route) {
    switch (route) {
        case Route::eventsinfo: return Kind::eventsinfo;
        case Route::eventimpact: return Kind::eventimpact;
        case Route::hoteldemand: return Kind::hoteldemand;
        default: return std::nullopt;
    }
}

}  // namespace esr::http
