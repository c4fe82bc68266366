#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace esr {

/// A setting that cannot be used. `setting()` names it the way a user would set it.
class ConfigError : public std::runtime_error {
public:
    ConfigError(std::string setting, const std::string& problem)
        : std::runtime_error(setting + ": " + problem), setting_(std::move(setting)) {}
    const std::string& setting() const { return setting_; }

private:
    std::string setting_;
};

struct ListenAddress {
    std::string host;  // numeric IPv4 or IPv6, without brackets
    std::uint16_t port = 0;
    /// host:port, with an IPv6 host in brackets.
    std::string to_string() const {
        return host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port)
                                                   : host + ":" + std::to_string(port);
    }
};

/// Parses "127.0.0.1:8080" or "[::1]:8080". Throws ConfigError naming `setting`.
ListenAddress parse_listen_address(const std::string& text, const std::string& setting);

/// Every setting of the daemon, parsed and validated once, then passed by const reference.
struct Config {
    ListenAddress listen{"127.0.0.1", 8080};
    std::string base_path;  // "" or "/prefix" without a trailing slash
    std::string database_url;
    // From ESR_DATABASE_PASSWORD[_FILE], database-password-file or the credential
    // 'database-password': a secret channel, so the URL on a command line (seen in ps) holds none.
    std::string database_password;

    std::string basic_user;
    std::string basic_password;
    std::vector<std::string> bearer_tokens;

    unsigned threads = 0;  // network threads
    std::uint64_t max_body_bytes = 256ull << 20;
    std::size_t max_header_bytes = 16 << 10;
    std::size_t max_connections = 1024;
    std::size_t max_connections_per_address = 128;  // 0: no limit; trusted proxies are exempt
    std::chrono::milliseconds header_timeout{10'000};
    // Long enough for a city matrix on a slow link (the shipped nginx site streams bodies, so the
    // sender's own pace reaches the daemon); --min-body-rate is what cuts a trickle short.
    std::chrono::milliseconds body_timeout{600'000};
    // After the grace, a body must keep arriving at min_body_rate on average (0: no floor), so a
    // trickle cannot hold a connection for the whole body timeout.
    std::uint64_t min_body_rate = 1024;  // bytes per second
    std::chrono::milliseconds body_rate_grace{10'000};
    std::chrono::milliseconds idle_timeout{60'000};
    std::chrono::milliseconds shutdown_grace{10'000};

    unsigned db_writers = 2;
    std::size_t queue_capacity = 4096;
    std::uint64_t queue_max_bytes = 64ull << 20;  // body bytes waiting for a writer, at most
    std::size_t batch_max = 256;
    std::uint64_t large_body_bytes = 1 << 20;  // from this size, bodies are parsed on the large lane
    std::size_t large_queue_capacity = 4;
    std::string state_dir;  // "" disables the spool
    std::uint64_t spool_max_bytes = 1ull << 30;
    std::chrono::milliseconds statement_timeout{30'000};
    std::chrono::milliseconds health_interval{1'000};

    std::string log_level = "info";
    unsigned auth_failure_limit = 20;  // failed authentications per address and window; 0: no limit
    std::chrono::milliseconds auth_failure_window{60'000};
    std::vector<std::string> trusted_proxies;  // CIDRs whose X-Forwarded-For is believed
    std::optional<ListenAddress> metrics_listen;  // /metrics on its own address instead
    std::string metrics_token;                    // "" : /metrics needs no credential
    std::chrono::milliseconds spool_drain_interval{1'000};

    // `prune` only: days of each history kept (0: for ever). In the config file beside the
    // daemon's settings, so the daily timer and the daemon read one file.
    unsigned keep_demand_days = 0;
    unsigned keep_body_days = 0;
    unsigned keep_rejected_days = 0;

    // `register` only: EventsShop's API and the account that logs in to it.
    std::string eventsshop_api;
    std::string eventsshop_user;
    std::string eventsshop_password;

    bool has_credentials() const { return !basic_user.empty() || !bearer_tokens.empty(); }
};

}  // namespace esr
