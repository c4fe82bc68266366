#include "world.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <pqxx/nontransaction>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

namespace esr::test {
namespace {
World* the_world = nullptr;
}

std::map<std::string, std::string> daemon_env(const std::string& database_url) {
    return {{"ESR_DATABASE_URL", database_url},
            {"ESR_BASIC_USER", basic_user},
            {"ESR_BASIC_PASSWORD", basic_password},
            {"ESR_BEARER_TOKENS", token_old + "," + token_new}};
}

std::unique_ptr<Daemon> start_daemon(int port, const std::map<std::string, std::string>& env,
                                     const std::filesystem::path& log_dir, std::vector<std::string> extra) {
    const std::vector<std::pair<std::string, std::string>> defaults{
        {"--max-body-bytes", std::to_string(max_body)}, {"--header-timeout", "1s"}, {"--idle-timeout", "5s"},
        {"--health-interval", "200ms"}, {"--threads", "2"}, {"--body-timeout", "3s"},
        // Tests fail authentication on purpose, all from 127.0.0.1; the throttle has its own test.
        {"--auth-failure-limit", "10000"}};
    std::vector<std::string> args{"serve", "--listen", "127.0.0.1:" + std::to_string(port)};
    for (const auto& [flag, value] : defaults)
        if (std::find(extra.begin(), extra.end(), flag) == extra.end()) args.insert(args.end(), {flag, value});
    args.insert(args.end(), extra.begin(), extra.end());
    auto d = std::make_unique<Daemon>(args, env, log_dir / ("daemon-" + std::to_string(port) + ".log"));
    for (int i = 0; i < 100; ++i) {
        try {
            // Any answer means it listens (with --metrics-listen, /healthz is not on this port).
            if (HttpClient(port).request("GET", "/healthz").status != 0) return d;
        } catch (const std::exception&) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("daemon did not start: " + d->log());
}

Site::Site(std::vector<std::string> extra_args, bool spool) : extra(std::move(extra_args)) {
    if (spool) extra.insert(extra.end(), {"--state-dir", (dir.path / "state").string()});
    std::string out;
    if (run({ESR_DAEMON_PATH, "migrate"}, env, &out) != 0) throw std::runtime_error("migrate failed: " + out);
    start();
}

Site::~Site() {
    if (daemon && daemon->running()) {
        int status = daemon->terminate();
        if (status != 0) BOOST_TEST_MESSAGE("daemon exited " << status << ":\n" << daemon->log());
    }
}

void Site::start() { daemon = start_daemon(port, env, dir.path, extra); }

void Site::crash_and_restart() {
    daemon->kill_hard();
    start();
}

HttpResponse Site::get(const std::string& path) { return HttpClient(port).request("GET", path); }

HttpResponse Site::post(const std::string& path, const std::string& body) {
    return HttpClient(port).request("POST", path, body, {{"Authorization", bearer_new}});
}

World::World() { the_world = this; }

World::~World() { the_world = nullptr; }

World& world() { return *the_world; }

BOOST_TEST_GLOBAL_FIXTURE(World);

pqxx::connection db() { return pqxx::connection(world().pg.url()); }

long long count_rows(const std::string& table) {
    auto c = db();
    pqxx::nontransaction tx(c);
    return tx.exec("SELECT count(*) FROM " + table)[0][0].as<long long>();
}

std::string unique_body(const std::string& tag) {
    static std::atomic<int> n = 0;  // tests call it from several threads at once
    return R"({"note": ")" + tag + R"(", "serial": )" + std::to_string(++n) + R"(, "nonce": )" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + "}";
}

HttpResponse post(const std::string& path, const std::string& body, const std::string& authorization) {
    std::map<std::string, std::string> headers;
    if (!authorization.empty()) headers["Authorization"] = authorization;
    return HttpClient(world().port).request("POST", path, body, headers);
}

boost::json::value json_of(const HttpResponse& r) { return boost::json::parse(r.body); }

}  // namespace esr::test
