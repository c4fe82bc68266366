#pragma once

#include "esr/kind.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace pqxx {
class connection_base;
}

namespace esr::db {

struct ReprocessFilter {
    std::optional<Kind> kind;          // only deliveries currently of this kind
    std::optional<std::string> since;  // only deliveries received at or after this time (timestamptz text)
    std::uint64_t large_body_bytes = 1 << 20;  // from this size a body is derived streaming, as intake does
};

struct ReprocessProgress {
    std::int64_t total = 0;        // deliveries selected
    std::int64_t done = 0;         // deliveries derived again
    std::int64_t reclassified = 0; // whose kind changed
    std::int64_t records = 0;      // typed rows written
    std::int64_t skipped = 0;      // not derivable now (the reason is logged)
    std::int64_t failed = 0;       // derivable, but their typed rows could not be written (logged)
    static constexpr std::size_t failed_ids_kept = 100;
    std::vector<std::int64_t> failed_ids;  // the first of them
};

/// Derives the typed rows again from the stored bodies, oldest first: small bodies a group at a
/// time, large ones alone and streaming (read in slices, their demand rows through COPY), with the
/// same code as live intake, so the result equals what a fresh intake of those bodies would give.
/// A delivery whose rows cannot be written keeps its earlier rows, is reported and passed; the run
/// goes on. Memory stays near the largest body. Idempotent. `report` is called now and then.
ReprocessProgress reprocess(pqxx::connection_base& connection, const ReprocessFilter& filter,
                            const std::function<void(const ReprocessProgress&)>& report);

}  // namespace esr::db
