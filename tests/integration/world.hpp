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

/// A PostgreSQL and a migrated daemon of a test's own, for tests that count rows, stop the
/// database or crash the daemon. With `spool`, the daemon keeps a spool in the site's directory.
struct Site {
    explicit Site(std::vector<std::string> extra = {}, bool spool = false);
    ~Site();
    void start();
    void crash_and_restart();
    HttpResponse get(const std::string& path);
    HttpResponse post(const std::string& path, const std::string& body);

    TempDir dir;
    Postgres pg{dir.path / "pg"};
    std::map<std::string, std::string> env = daemon_env(pg.url());
    int port = free_port();
    std::vector<std::string> extra;
    std::unique_ptr<Daemon> daemon;
};

/// The site most tests share, started once per test module.
struct World : Site {
    World();
    ~World();
};

World& world();

pqxx::connection db();
long long count_rows(const std::string& table);
std::string unique_body(const std::string& tag);
HttpResponse post(const std::string& path, const std::string& body, const std::string& authorization = bearer_new);
boost::json::value json_of(const HttpResponse& r);

}  // namespace esr::test
