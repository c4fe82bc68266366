#pragma once

// The PostgreSQL and daemon every integration test shares, started once per test module, and
// helpers to talk to them.

#include "harness.hpp"

#include <boost/json/value.hpp>

#include <pqxx/connection>

namespace esr::test {

inline const std::string basic_user = "eventsshop";
inline const std::string basic_password = "p:ss wörd";  // a colon and non-ASCII on purpose
inline const std::string token_old = "old-token-0123456789";
inline const std::string token_new = "new-token-abcdefghij";
inline const std::string bearer_new = "Bearer " + token_new;
inline constexpr std::uint64_t max_body = 64 << 10;

/// Starts `eventsshop-receiver serve` with the test settings and waits until it answers.
std::unique_ptr<Daemon> start_daemon(int port, const std::map<std::string, std::string>& env,
                                     const std::filesystem::path& log_dir, std::vector<std::string> extra = {});

std::map<std::string, std::string> daemon_env(const std::string& database_url);

struct World {
    World();
    ~World();
    TempDir dir;
    Postgres pg{dir.path / "pg"};
    int port = free_port();
    std::map<std::string, std::string> env = daemon_env(pg.url());
    std::unique_ptr<Daemon> daemon;
};

World& world();

pqxx::connection db();
long long count_rows(const std::string& table);
std::string unique_body(const std::string& tag);
HttpResponse post(const std::string& path, const std::string& body, const std::string& authorization = bearer_new);
boost::json::value json_of(const HttpResponse& r);

}  // namespace esr::test
