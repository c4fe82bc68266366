#include "esr/config_loader.hpp"

#include "db/connection.hpp"

#include "esr/http/forwarded.hpp"
#include "esr/kind.hpp"
#include "esr/log.hpp"

#include <boost/program_options.hpp>

#include <algorithm>
#include <set>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <arpa/inet.h>

namespace po = boost::program_options;

namespace esr {
namespace {

std::string env_name_of(const std::string& option) {
    std::string name = "ESR_";
    for (char c : option) name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return name;
}

std::string setting_name(const std::string& option) {
    return "--" + option + " (" + env_name_of(option) + ")";
}

po::options_description general_options() {
    po::options_description d("General");
    d.add_options()
        ("help,h", "show this help and exit")
        ("config", po::value<std::string>(), "read settings from this file (key = value lines)")
        ("log-level", po::value<std::string>(), "debug, info, warning or error [info]");
    return d;
}

po::options_description database_options() {
    po::options_description d("Database");
    d.add_options()
        ("database-url", po::value<std::string>(), "libpq connection string or URI (required)")
        ("db-writers", po::value<std::string>(), "writer threads, one connection each [2]")
        ("queue-capacity", po::value<std::string>(), "deliveries waiting for a writer before 503 [4096]")
        ("batch-max", po::value<std::string>(), "deliveries committed in one transaction at most [256]")
        ("large-body-bytes", po::value<std::string>(), "bodies from this size are parsed streaming on the "
                                                       "large-delivery lane [1048576]")
        ("large-queue-capacity", po::value<std::string>(), "large deliveries waiting before 503 [4]")
        ("state-dir", po::value<std::string>(), "directory for the spool that keeps deliveries while PostgreSQL "
                                                "cannot take them [$STATE_DIRECTORY; none: no spool]")
        ("spool-max-bytes", po::value<std::string>(), "spool size limit; beyond it, 503 [1073741824 = 1 GiB]")
        ("statement-timeout", po::value<std::string>(), "PostgreSQL statement_timeout [30s]")
        ("health-interval", po::value<std::string>(), "how often readiness is checked [1s]");
    return d;
}

po::options_description http_options() {
    po::options_description d("HTTP");
    d.add_options()
        ("listen", po::value<std::string>(), "address:port, [v6]:port for IPv6 [127.0.0.1:8080]")
        ("base-path", po::value<std::string>(), "path prefix when a proxy mounts the daemon under one []")
        ("basic-user", po::value<std::string>(), "user EventsShop presents with Basic auth; the password "
                                                 "comes from ESR_BASIC_PASSWORD or ESR_BASIC_PASSWORD_FILE")
        ("threads", po::value<std::string>(), "network threads [number of cores]")
        ("max-body-bytes", po::value<std::string>(), "largest body accepted [268435456 = 256 MiB]")
        ("max-header-bytes", po::value<std::string>(), "largest request header [16384]")
        ("max-connections", po::value<std::string>(), "connections open at once [1024]")
        ("max-connections-per-address", po::value<std::string>(), "connections one client address may hold "
                                                                  "(trusted proxies exempt) [128; 0: no limit]")
        ("header-timeout", po::value<std::string>(), "time to send a request header [10s]")
        ("body-timeout", po::value<std::string>(), "time to send a request body [120s]")
        ("min-body-rate", po::value<std::string>(), "bytes per second a body must average once "
                                                    "--body-rate-grace has passed [1024; 0: no floor]")
        ("body-rate-grace", po::value<std::string>(), "time a body gets before --min-body-rate applies, at least 1s [10s]")
        ("idle-timeout", po::value<std::string>(), "keep-alive wait for the next request [60s]")
        ("shutdown-grace", po::value<std::string>(), "time in-flight requests get on SIGTERM [10s]")
        ("metrics-listen", po::value<std::string>(), "serve /metrics (with /healthz, /readyz) on this address:port "
                                                     "instead of the main one; the token, if any, from "
                                                     "ESR_METRICS_TOKEN[_FILE]")
        ("auth-failure-limit", po::value<std::string>(), "failed authentications an address may make per window "
                                                         "before it gets 429 [20; 0: no limit]")
        ("auth-failure-window", po::value<std::string>(), "the window of --auth-failure-limit [60s]")
        ("trusted-proxies", po::value<std::string>(), "CIDRs (comma-separated) whose X-Forwarded-For names the "
                                                      "client; from anyone else it is ignored []");
    return d;
}

// Secret files may be named in the config file; secrets themselves never on the command line.
po::options_description file_only_options() {
    po::options_description d;
    d.add_options()
        ("basic-password-file", po::value<std::string>(), "")
        ("database-password-file", po::value<std::string>(), "")
        ("bearer-tokens-file", po::value<std::string>(), "")
        ("eventsshop-password-file", po::value<std::string>(), "")
        ("metrics-token-file", po::value<std::string>(), "");
    return d;
}

struct Sources {
    po::variables_map values;
    const GetEnv& getenv;
    std::optional<std::string> get(const std::string& option) const {
        if (values.count(option)) return values[option].as<std::string>();
        return std::nullopt;
    }
};

std::uint64_t parse_unsigned(const std::string& text, const std::string& option, std::uint64_t min,
                             std::uint64_t max) {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size())
        throw ConfigError(setting_name(option), "'" + text + "' is not a whole number");
    if (v < min || v > max)
        throw ConfigError(setting_name(option), "'" + text + "' is out of range [" + std::to_string(min) +
                                                    ", " + std::to_string(max) + "]");
    return v;
}

void at_least(const char* option, std::chrono::milliseconds value, std::chrono::milliseconds min) {
    if (value < min)
        throw ConfigError(setting_name(option), "must be at least " + std::to_string(min.count()) + "ms");
}

// Read by libpq's own parser, so what passes here is what the connections will get.
void check_database_url(const std::string& url) {
    if (url.empty()) return;
    try {
        db::with_connection_defaults(url);
    } catch (const std::invalid_argument& e) {
        throw ConfigError(setting_name("database-url"), std::string("cannot be parsed: ") + e.what());
    }
}

std::string read_secret_file(const std::string& path, const std::string& setting) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError(setting, "cannot read '" + path + "'");
    std::ostringstream s;
    s << in.rdbuf();
    std::string text = s.str();
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
}

std::vector<std::string> split_tokens(const std::string& text) {
    std::vector<std::string> tokens;
    std::string current;
    auto flush = [&] {
        auto b = current.find_first_not_of(" \t\r\n");
        auto e = current.find_last_not_of(" \t\r\n");
        if (b != std::string::npos) tokens.push_back(current.substr(b, e - b + 1));
        current.clear();
    };
    for (char c : text) {
        if (c == ',' || c == '\n') flush();
        else current += c;
    }
    flush();
    return tokens;
}

// A secret from, in order: the variable, the file the variable names, the file the config file
// names, systemd's credential of that name.
std::optional<std::string> find_secret(const Sources& s, const std::string& env, const std::string& file_option,
                                       const std::string& credential) {
    if (auto v = s.getenv(env)) return *v;
    if (auto path = s.getenv(env + "_FILE")) return read_secret_file(*path, env + "_FILE");
    if (auto path = s.get(file_option)) return read_secret_file(*path, file_option + " (config file)");
    if (auto dir = s.getenv("CREDENTIALS_DIRECTORY")) {
        std::string path = *dir + "/" + credential;
        if (std::ifstream(path).good()) return read_secret_file(path, "$CREDENTIALS_DIRECTORY/" + credential);
    }
    return std::nullopt;
}

void apply_credentials(Config& c, const Sources& s) {
    if (auto v = s.get("basic-user")) c.basic_user = *v;
    if (auto pw = find_secret(s, "ESR_BASIC_PASSWORD", "basic-password-file", "basic-password")) c.basic_password = *pw;
    if (auto t = find_secret(s, "ESR_BEARER_TOKENS", "bearer-tokens-file", "bearer-tokens")) c.bearer_tokens = split_tokens(*t);

    if (c.basic_user.find(':') != std::string::npos)
        throw ConfigError(setting_name("basic-user"), "must not contain ':'");
    if (!c.basic_user.empty() && c.basic_password.empty())
        throw ConfigError("ESR_BASIC_PASSWORD", "not set, but --basic-user is");
    if (c.basic_user.empty() && !c.basic_password.empty())
        throw ConfigError(setting_name("basic-user"), "not set, but a Basic password is");
}

void apply(Config& c, const Sources& s, Command command) {
    if (auto v = s.get("log-level")) {
        if (*v != "debug" && *v != "info" && *v != "warning" && *v != "error")
            throw ConfigError(setting_name("log-level"), "'" + *v + "' is not debug, info, warning or error");
        c.log_level = *v;
    }
    if (command == Command::simulate || command == Command::register_endpoint) return apply_credentials(c, s);
    if (auto v = s.get("database-url")) c.database_url = *v;
    if (auto pw = find_secret(s, "ESR_DATABASE_PASSWORD", "database-password-file", "database-password"))
        c.database_password = *pw;
    auto unsigned_option = [&](const char* name, auto& field, std::uint64_t min, std::uint64_t max) {
        if (auto v = s.get(name)) field = static_cast<std::remove_reference_t<decltype(field)>>(parse_unsigned(*v, name, min, max));
    };
    auto duration_option = [&](const char* name, std::chrono::milliseconds& field) {
        if (auto v = s.get(name)) field = parse_duration(*v, setting_name(name));
    };
    unsigned_option("db-writers", c.db_writers, 1, 64);
    unsigned_option("queue-capacity", c.queue_capacity, 1, 1'000'000);
    unsigned_option("batch-max", c.batch_max, 1, 10'000);
    unsigned_option("large-body-bytes", c.large_body_bytes, 1, 1ull << 40);
    unsigned_option("large-queue-capacity", c.large_queue_capacity, 1, 1000);
    if (auto v = s.get("state-dir")) c.state_dir = *v;
    else if (auto systemd = s.getenv("STATE_DIRECTORY")) c.state_dir = systemd->substr(0, systemd->find(':'));
    unsigned_option("spool-max-bytes", c.spool_max_bytes, 1, 1ull << 50);
    duration_option("statement-timeout", c.statement_timeout);
    duration_option("health-interval", c.health_interval);
    at_least("health-interval", c.health_interval, std::chrono::milliseconds(10));
    check_database_url(c.database_url);
    if (command == Command::migrate || command == Command::reprocess) {
        if (c.database_url.empty()) throw ConfigError(setting_name("database-url"), "not set");
        return;
    }

    if (auto v = s.get("listen")) c.listen = parse_listen_address(*v, setting_name("listen"));
    if (auto v = s.get("base-path")) {
        std::string p = *v;
        while (!p.empty() && p.back() == '/') p.pop_back();
        if (!p.empty() && p.front() != '/') throw ConfigError(setting_name("base-path"), "must start with '/'");
        if (p.find_first_of("?# ") != std::string::npos)
            throw ConfigError(setting_name("base-path"), "must be a plain path");
        c.base_path = p;
    }
    c.threads = std::max(1u, std::thread::hardware_concurrency());
    unsigned_option("threads", c.threads, 1, 256);
    // PostgreSQL keeps at most 1 GB in one value: a larger body could be acknowledged (spooled) and
    // then never stored.
    unsigned_option("max-body-bytes", c.max_body_bytes, 1, 1'000'000'000);
    unsigned_option("max-header-bytes", c.max_header_bytes, 1024, 1 << 20);
    unsigned_option("max-connections", c.max_connections, 1, 1'000'000);
    unsigned_option("max-connections-per-address", c.max_connections_per_address, 0, 1'000'000);
    duration_option("header-timeout", c.header_timeout);
    duration_option("body-timeout", c.body_timeout);
    unsigned_option("min-body-rate", c.min_body_rate, 0, 1ull << 40);
    duration_option("body-rate-grace", c.body_rate_grace);
    if (c.body_rate_grace < std::chrono::seconds(1))
        throw ConfigError(setting_name("body-rate-grace"),
                          "must be at least 1s: a body cannot keep up with a rate from its first moment");
    duration_option("idle-timeout", c.idle_timeout);
    duration_option("shutdown-grace", c.shutdown_grace);
    unsigned_option("auth-failure-limit", c.auth_failure_limit, 0, 1'000'000);
    duration_option("auth-failure-window", c.auth_failure_window);
    // A zero timeout would cut every request at once; a zero window would never count a failure.
    at_least("header-timeout", c.header_timeout, std::chrono::milliseconds(1));
    at_least("body-timeout", c.body_timeout, std::chrono::milliseconds(1));
    at_least("idle-timeout", c.idle_timeout, std::chrono::milliseconds(1));
    at_least("auth-failure-window", c.auth_failure_window, std::chrono::milliseconds(1));
    // Only when set: lowering --max-body-bytes alone just means no body is large.
    if (s.get("large-body-bytes") && c.large_body_bytes > c.max_body_bytes)
        throw ConfigError(setting_name("large-body-bytes"),
                          "is above --max-body-bytes (" + std::to_string(c.max_body_bytes) +
                              "): no body could ever take the large lane");
    if (!c.state_dir.empty() && c.spool_max_bytes < c.max_body_bytes)
        throw ConfigError(setting_name("spool-max-bytes"),
                          "is below --max-body-bytes (" + std::to_string(c.max_body_bytes) +
                              "): the largest body could never be spooled");
    if (auto v = s.get("metrics-listen")) c.metrics_listen = parse_listen_address(*v, setting_name("metrics-listen"));
    if (auto t = find_secret(s, "ESR_METRICS_TOKEN", "metrics-token-file", "metrics-token")) c.metrics_token = *t;
    if (auto v = s.get("trusted-proxies")) {
        for (const auto& cidr : split_tokens(*v)) {
            auto block = http::parse_cidr(cidr);
            if (!block)
                throw ConfigError(setting_name("trusted-proxies"), "'" + cidr + "' is not an address or CIDR block");
            // Trusting every address lets any client choose the address it is counted under.
            if (cidr.ends_with("/0"))
                throw ConfigError(setting_name("trusted-proxies"),
                                  "'" + cidr + "' trusts every address: name the proxies' own addresses");
            c.trusted_proxies.push_back(cidr);
        }
    }

    apply_credentials(c, s);
    if (!c.has_credentials())
        throw ConfigError("credentials", "none configured: set --basic-user with ESR_BASIC_PASSWORD, "
                                         "or ESR_BEARER_TOKENS");
    if (c.database_url.empty()) throw ConfigError(setting_name("database-url"), "not set");
}

}  // namespace

GetEnv process_environment() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        if (v == nullptr || *v == '\0') return std::nullopt;
        return std::string(v);
    };
}

ListenAddress parse_listen_address(const std::string& text, const std::string& setting) {
    ListenAddress a;
    std::string port;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
            throw ConfigError(setting, "'" + text + "' is not [address]:port");
        a.host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string::npos) throw ConfigError(setting, "'" + text + "' is not address:port");
        a.host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    unsigned char buf[16];
    bool v4 = inet_pton(AF_INET, a.host.c_str(), buf) == 1;
    bool v6 = inet_pton(AF_INET6, a.host.c_str(), buf) == 1;
    if (!v4 && !v6) throw ConfigError(setting, "'" + a.host + "' is not a numeric IPv4 or IPv6 address");
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc{} || end != port.data() + port.size() || p > 65535)
        throw ConfigError(setting, "'" + port + "' is not a port number");
    a.port = static_cast<std::uint16_t>(p);
    return a;
}

std::string ListenAddress::to_string() const {
    return host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port)
                                                : host + ":" + std::to_string(port);
}

std::chrono::milliseconds parse_duration(const std::string& text, const std::string& setting) {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    const std::string unit(end, text.data() + text.size());
    std::uint64_t ms_per_unit = 0;
    if (unit.empty() || unit == "s") ms_per_unit = 1000;
    else if (unit == "ms") ms_per_unit = 1;
    else if (unit == "m") ms_per_unit = 60'000;
    if (ec != std::errc{} || ms_per_unit == 0)
        throw ConfigError(setting, "'" + text + "' is not a duration such as 10s, 250ms or 2m");
    // At most a year, so that deadlines computed from it cannot overflow the clock.
    constexpr std::uint64_t year_ms = 365ull * 24 * 3600 * 1000;
    if (n > year_ms / ms_per_unit) throw ConfigError(setting, "'" + text + "' is longer than a year");
    return std::chrono::milliseconds(n * ms_per_unit);
}

/// Every option `command` takes, as its --help shows them.
po::options_description options_for(Command command) {
    po::options_description visible;
    visible.add(general_options());
    if (command != Command::simulate && command != Command::register_endpoint) visible.add(database_options());
    if (command == Command::register_endpoint) {
        po::options_description reg("Register");
        reg.add_options()
            ("api-base", po::value<std::string>(), "EventsShop's API, e.g. https://api.example.com (no default is "
                                                   "published; also ESR_EVENTSSHOP_API)")
            ("endpoint", po::value<std::string>(), "the public URL EventsShop will call: the reverse proxy's, not "
                                                   "the listen address")
            ("auth", po::value<std::string>(), "basic or bearer: which of the daemon's credentials EventsShop will "
                                               "present [basic if a Basic user is configured]")
            ("basic-user", po::value<std::string>(), "Basic user (the password from ESR_BASIC_PASSWORD[_FILE])")
            ("ca-file", po::value<std::string>(), "trust this CA too (PEM), for a private CA")
            ("max-attempts", po::value<std::string>(), "attempts per call when EventsShop answers 429 or 5xx [5]")
            ("timeout", po::value<std::string>(), "how long to wait for each answer [30s]")
            ("dry-run", "print the requests it would send, secrets redacted, and send nothing");
        visible.add(reg);
    }
    if (command == Command::serve || command == Command::check_config) visible.add(http_options());
    if (command == Command::simulate) {
        po::options_description sim("Simulate");
        sim.add_options()
            ("url", po::value<std::string>(), "the receiver's URL [http://127.0.0.1:8080/]")
            ("auth", po::value<std::string>(), "basic or bearer: which of the daemon's credentials to present "
                                               "[bearer if a token is configured]")
            ("basic-user", po::value<std::string>(), "Basic user (the password from ESR_BASIC_PASSWORD[_FILE])")
            ("file", po::value<std::string>(), "send this body, or every file in this directory, once each")
            ("kind", po::value<std::string>(), "generate bodies of this kind: eventsinfo, eventimpact, hoteldemand")
            ("count", po::value<std::string>(), "how many generated deliveries [1]")
            ("concurrency", po::value<std::string>(), "connections sending at once [4]")
            ("hotels", po::value<std::string>(), "hoteldemand: hotels in the city matrix [20]")
            ("days", po::value<std::string>(), "hoteldemand: days in the city matrix [30]")
            ("seed", po::value<std::string>(), "seed for generated bodies: the same seed, the same bodies [1]");
        visible.add(sim);
    }
    if (command == Command::reprocess) {
        po::options_description r("Reprocess");
        r.add_options()
            ("kind", po::value<std::string>(), "only deliveries now of this kind: eventsinfo, eventimpact, "
                                               "hoteldemand or unclassified")
            ("since", po::value<std::string>(), "only deliveries received at or after this time "
                                                "(e.g. 2026-03-01 or '2026-03-01 12:00+00')");
        visible.add(r);
    }
    return visible;
}

std::set<std::string> names_of(const po::options_description& d) {
    std::set<std::string> names;
    for (const auto& o : d.options()) names.insert(o->long_name());
    return names;
}

// Settings: what the daemon is, shared by every command that needs it, from flags, ESR_ variables
// or the config file. The rest (--since, --kind, --url, --dry-run, ...) says what one run of one
// command does: flags only, so a stray ESR_SINCE in an environment file narrows nothing.
const std::set<std::string>& setting_names() {
    static const std::set<std::string> names = [] {
        po::options_description all;
        all.add(general_options()).add(database_options()).add(http_options()).add(file_only_options());
        return names_of(all);
    }();
    return names;
}

// Any option of any command: a key one command does not use is another's, and ignored quietly
// (one config file serves them all); a key in none of them is a mistake.
const std::set<std::string>& every_option_name() {
    static const std::set<std::string> names = [] {
        std::set<std::string> all = setting_names();
        for (auto c : {Command::serve, Command::migrate, Command::check_config, Command::reprocess, Command::simulate,
                       Command::register_endpoint})
            for (const auto& n : names_of(options_for(c))) all.insert(n);
        return all;
    }();
    return names;
}

LoadedConfig load_config(Command command, const std::vector<std::string>& args, const GetEnv& getenv) {
    po::options_description visible = options_for(command);
    po::options_description in_file;
    in_file.add(visible).add(file_only_options());

    LoadedConfig loaded;
    Sources sources{{}, getenv};
    try {
        po::store(po::command_line_parser(args).options(visible).run(), sources.values);
    } catch (const po::error& e) {
        throw ConfigError("command line", e.what());
    }
    // A password in a URL given as a flag shows in ps and in the shell's history.
    const bool url_from_flag = sources.values.count("database-url") > 0;
    if (sources.values.count("help")) {
        std::ostringstream help;
        help << visible
             << "\nSecrets (never on the command line):\n"
                "  ESR_BASIC_PASSWORD, ESR_BASIC_PASSWORD_FILE   the Basic password\n"
                "  ESR_BEARER_TOKENS, ESR_BEARER_TOKENS_FILE     accepted Bearer tokens, comma-separated\n"
                "  ESR_DATABASE_PASSWORD, ESR_DATABASE_PASSWORD_FILE   the database password, if the\n"
                "                                                 database URL needs one\n"
                "  (or basic-password-file / bearer-tokens-file / database-password-file in the\n"
                "  config file, or systemd credentials 'basic-password' / 'bearer-tokens' /\n"
                "  'database-password' in $CREDENTIALS_DIRECTORY)\n"
                "\nEvery option can also be set as ESR_<NAME> (--max-body-bytes: ESR_MAX_BODY_BYTES)\n"
                "or as 'name = value' in the --config file. Flags win over the environment, which\n"
                "wins over the file.\n";
        loaded.help = true;
        loaded.help_text = help.str();
        return loaded;
    }

    // The environment fills what the flags left unset; the config file comes after both. Both
    // hold settings only, and only those this command uses.
    const auto uses = names_of(in_file);
    for (const auto& name : uses) {
        if (name == "help" || !setting_names().count(name) || sources.values.count(name)) continue;
        if (auto v = getenv(env_name_of(name))) sources.values.insert({name, po::variable_value(*v, false)});
    }

    if (auto file = sources.get("config")) {
        std::ifstream in(*file);
        if (!in) throw ConfigError(setting_name("config"), "cannot read '" + *file + "'");
        po::options_description any_key;
        for (const auto& name : every_option_name()) any_key.add_options()(name.c_str(), po::value<std::string>());
        po::variables_map from_file;
        try {
            po::store(po::parse_config_file(in, any_key, false), from_file);
        } catch (const po::error& e) {
            throw ConfigError(setting_name("config"), *file + ": " + e.what());
        }
        for (const auto& [name, value] : from_file)
            if (uses.count(name) && setting_names().count(name) && !sources.values.count(name))
                sources.values.insert({name, value});
        loaded.config_file = *file;
    }
    apply(loaded.config, sources, command);
    if (url_from_flag && db::names_a_password(loaded.config.database_url))
        log::warning("--database-url on the command line holds a password, which other users can read in ps; "
                     "give it by ESR_DATABASE_PASSWORD_FILE, database-password-file or the credential "
                     "'database-password' instead");
    for (const char* name : {"kind", "since", "url", "auth", "file", "count", "concurrency", "hotels", "days", "seed",
                             "api-base", "endpoint", "ca-file", "max-attempts", "timeout"})
        if (auto v = sources.get(name)) loaded.command_options[name] = *v;
    if (command == Command::register_endpoint) {
        if (sources.values.count("dry-run")) loaded.command_options["dry-run"] = "yes";
        if (!loaded.command_options.count("api-base")) {
            if (auto v = getenv("ESR_EVENTSSHOP_API")) loaded.command_options["api-base"] = *v;
        }
        // The EventsShop account: secrets, so never flags.
        if (auto v = getenv("ESR_EVENTSSHOP_USER")) loaded.command_options["eventsshop-user"] = *v;
        if (auto pw = find_secret(sources, "ESR_EVENTSSHOP_PASSWORD", "eventsshop-password-file", "eventsshop-password"))
            loaded.command_options["eventsshop-password"] = *pw;
    }
    if (auto k = sources.get("kind"); k && !kind_from_string(*k))
        throw ConfigError("--kind", "'" + *k + "' is not eventsinfo, eventimpact, hoteldemand or unclassified");
    return loaded;
}

std::string describe_config(const Config& c) {
    auto secs = [](std::chrono::milliseconds d) {
        return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + "s" : std::to_string(d.count()) + "ms";
    };
    std::ostringstream o;
    o << "listen = " << c.listen.to_string() << "\n"
      << "base-path = " << c.base_path << "\n"
      << "database-url = " << db::redacted_connection_string(c.database_url) << "\n"
      << "# database password: " << (c.database_password.empty() ? "not set" : "set (redacted)") << "\n"
      << "basic-user = " << c.basic_user << "\n"
      << "# basic password: " << (c.basic_password.empty() ? "not set" : "set (redacted)") << "\n"
      << "# bearer tokens: " << c.bearer_tokens.size() << " set (redacted)\n"
      << "threads = " << c.threads << "\n"
      << "max-body-bytes = " << c.max_body_bytes << "\n"
      << "max-header-bytes = " << c.max_header_bytes << "\n"
      << "max-connections = " << c.max_connections << "\n"
      << "max-connections-per-address = " << c.max_connections_per_address << "\n"
      << "header-timeout = " << secs(c.header_timeout) << "\n"
      << "body-timeout = " << secs(c.body_timeout) << "\n"
      << "min-body-rate = " << c.min_body_rate << "\n"
      << "body-rate-grace = " << secs(c.body_rate_grace) << "\n"
      << "idle-timeout = " << secs(c.idle_timeout) << "\n"
      << "shutdown-grace = " << secs(c.shutdown_grace) << "\n"
      << "metrics-listen = " << (c.metrics_listen ? c.metrics_listen->to_string() : std::string()) << "\n"
      << "# metrics token: " << (c.metrics_token.empty() ? "not set" : "set (redacted)") << "\n"
      << "auth-failure-limit = " << c.auth_failure_limit << "\n"
      << "auth-failure-window = " << secs(c.auth_failure_window) << "\n"
      << "trusted-proxies = " << [&] {
             std::string all;
             for (const auto& t : c.trusted_proxies) all += (all.empty() ? "" : ",") + t;
             return all;
         }() << "\n"
      << "db-writers = " << c.db_writers << "\n"
      << "queue-capacity = " << c.queue_capacity << "\n"
      << "batch-max = " << c.batch_max << "\n"
      << "large-body-bytes = " << c.large_body_bytes << "\n"
      << "large-queue-capacity = " << c.large_queue_capacity << "\n"
      << "state-dir = " << c.state_dir << "\n"
      << "spool-max-bytes = " << c.spool_max_bytes << "\n"
      << "statement-timeout = " << secs(c.statement_timeout) << "\n"
      << "health-interval = " << secs(c.health_interval) << "\n"
      << "log-level = " << c.log_level << "\n";
    return o.str();
}

}  // namespace esr
