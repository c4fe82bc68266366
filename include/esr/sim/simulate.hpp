#pragma once

#include "esr/http/client.hpp"
#include "esr/kind.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace esr::sim {

/// Deliveries shaped like EventsShop's (the shapes of tests/fixtures), generated from a seed:
/// the same seed and index give the same body, a different index a different body.
std::string generate_body(Kind kind, std::uint64_t seed, std::uint64_t index, unsigned hotels, unsigned days);

struct SimulateOptions {
    http::Url target;
    std::optional<std::string> ca_file;
    std::string authorization;                 // the whole header value
    std::vector<std::filesystem::path> files;  // bodies to send once each, or else generated ones:
    Kind kind = Kind::eventsinfo;
    std::uint64_t count = 1;
    unsigned concurrency = 4;
    unsigned hotels = 20;
    unsigned days = 30;
    std::uint64_t seed = 1;
};

struct SimulateReport {
    std::uint64_t sent = 0;
    std::uint64_t acknowledged = 0;  // answered 2xx
    std::uint64_t failed = 0;        // no answer (connection refused or cut)
    std::map<unsigned, std::uint64_t> statuses;
    std::uint64_t bytes = 0;
    std::chrono::microseconds p50{0}, p99{0};
    double seconds = 0;
};

/// Sends the deliveries over `concurrency` keep-alive connections. `progress` is called about every
/// two seconds while it runs.
SimulateReport simulate(const SimulateOptions& options, const std::function<void(const SimulateReport&)>& progress);

}  // namespace esr::sim
