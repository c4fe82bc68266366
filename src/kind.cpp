#include "esr/kind.hpp"

namespace esr {

std::string_view to_string(Kind kind) {
    switch (kind) {
        case Kind::eventsinfo: return "eventsinfo";
        case Kind::eventimpact: return "eventimpact";
        case Kind::hoteldemand: return "hoteldemand";
        case Kind::unclassified: return "unclassified";
    }
    return "unclassified";
}

std::optional<Kind> kind_from_string(std::string_view name) {
    // EventsShop's schedule API spells the impact kind "eventsimpact"; its hook text "eventimpact".
    if (name == "eventsimpact") return Kind::eventimpact;
    for (Kind k : {Kind::eventsinfo, Kind::eventimpact, Kind::hoteldemand, Kind::unclassified})
        if (to_string(k) == name) return k;
    return std::nullopt;
}

}  // namespace esr
