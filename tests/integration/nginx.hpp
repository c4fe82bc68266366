#pragma once

// The shipped nginx sites of deploy/, run for real on loopback in front of daemons.

#include "harness.hpp"

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace esr::test {

/// deploy/`file` listening on 127.0.0.1:`listen_port` (no IPv6) with the test certificate in
/// `pki`, and `more` replacements (a regex and its replacement each). Throws when a pattern no
/// longer matches, so the tests follow the shipped file rather than drift from it.
std::string shipped_site(const std::string& file, int listen_port, const std::filesystem::path& pki,
                         const std::vector<std::pair<std::string, std::string>>& more);

/// nginx serving `site` from `dir`, started and listening on `port`.
struct Nginx {
    Nginx(const std::filesystem::path& dir, const std::string& site, int port);
    std::unique_ptr<Daemon> process;
};

bool have_nginx();

}  // namespace esr::test
