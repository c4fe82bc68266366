#pragma once

#include "esr/kind.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace pqxx {
class connection_base;
}

namespace esr::db {

struct ReprocessFilter {
    std::optional<Kind> kind;          // only deliveries currently of this kind
    std::optional<std::string> since;  // only deliveries received at or after this time (timestamptz text)
};

struct ReprocessProgress {
    std::int64_t total = 0;        // deliveries selected
    std::int64_t done = 0;         // deliveries derived again
    std::int64_t reclassified = 0; // whose kind changed
    std::int64_t records = 0;      // typed rows written
    std::int64_t skipped = 0;      // not derivable now (the reason is logged)
};

/// Derives the typed rows again from the stored bodies, oldest first, in transactions of a few
/// hundred deliveries: the same code as live intake, so the result equals what a fresh intake of
/// those bodies would give. Idempotent. `report` is called now and then, and at the end.
ReprocessProgress reprocess(pqxx::connection_base& connection, const ReprocessFilter& filter,
                            const std::function<void(const ReprocessProgress&)>& report);

}  // namespace esr::db
