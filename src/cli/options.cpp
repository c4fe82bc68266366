#include "options.hpp"

#include "db/connection.hpp"

#include "esr/http/client.hpp"
#include "esr/address.hpp"
#include "esr/kind.hpp"

#include <charconv>
#include <type_traits>

namespace esr::options {
namespace {

constexpr unsigned serve = bit(Command::serve) | bit(Command::check_config);  // check-config reads as serve
constexpr unsigned migrate = bit(Command::migrate);
constexpr unsigned reprocess = bit(Command::reprocess);
constexpr unsigned simulate = bit(Command::simulate);
constexpr unsigned register_ = bit(Command::register_endpoint);
constexpr unsigned prune = bit(Command::prune);
constexpr unsigned database = serve | migrate | reprocess | prune;
constexpr unsigned every = database | simulate | register_;

std::string variable_for(const std::string& name) {
    std::string v = "ESR_";
    for (char c : name) v += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return v;
}

Option declare(Source source, std::string name, unsigned commands, std::string section, std::string help) {
    Option o;
    o.source = source;
    o.variable = source == Source::setting || source == Source::secret ? variable_for(name) : "";
    o.name = std::move(name);
    o.commands = commands;
    o.section = std::move(section);
    o.help = std::move(help);
    return o;
}

template <class Owner>
Owner& owner(Target t) {
    if constexpr (std::is_same_v<Owner, Config>) return t.config;
    else return t.command;
}

std::uint64_t parse_unsigned(const std::string& text, const std::string& setting, std::uint64_t min, std::uint64_t max) {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size())
        throw ConfigError(setting, "'" + text + "' is not a whole number");
    if (v < min || v > max)
        throw ConfigError(setting, "'" + text + "' is out of range [" + std::to_string(min) + ", " +
                                       std::to_string(max) + "]");
    return v;
}

// The completers below fill in how a value is parsed, checked, stored and shown; the default shown
// in --help is read from a default-constructed Config or CommandOptions, so it is the real one.

template <class Owner, class T>
Option number(Option o, T Owner::*field, std::uint64_t min, std::uint64_t max) {
    o.value_name = "N";
    o.help += " (" + std::to_string(min) + " to " + std::to_string(max) + ")";
    if (o.default_text.empty()) o.default_text = std::to_string(Owner{}.*field);
    o.set = [=](Target t, const std::string& v, const std::string& setting) {
        owner<Owner>(t).*field = static_cast<T>(parse_unsigned(v, setting, min, max));
    };
    if constexpr (std::is_same_v<Owner, Config>) o.show = [=](const Config& c) { return std::to_string(c.*field); };
    return o;
}

template <class Owner>
Option duration(Option o, std::chrono::milliseconds Owner::*field, std::chrono::milliseconds min) {
    o.value_name = "DURATION";
    if (min.count() > 1) o.help += " (at least " + format_duration(min) + ")";
    o.default_text = format_duration(Owner{}.*field);
    o.set = [=](Target t, const std::string& v, const std::string& setting) {
        auto d = parse_duration(v, setting);
        // A zero timeout would cut every request at once; a zero interval would spin.
        if (d < min) throw ConfigError(setting, "must be at least " + format_duration(min));
        owner<Owner>(t).*field = d;
    };
    if constexpr (std::is_same_v<Owner, Config>) o.show = [=](const Config& c) { return format_duration(c.*field); };
    return o;
}

template <class Owner>
Option text(Option o, std::string Owner::*field, std::string value_name,
            std::function<std::string(const std::string&, const std::string&)> check = nullptr) {
    o.value_name = std::move(value_name);
    if (o.default_text.empty()) o.default_text = Owner{}.*field;
    o.set = [=](Target t, const std::string& v, const std::string& setting) {
        owner<Owner>(t).*field = check ? check(v, setting) : v;
    };
    if constexpr (std::is_same_v<Owner, Config>) o.show = [=](const Config& c) { return c.*field; };
    return o;
}

std::string one_of(const std::string& v, const std::string& setting, std::initializer_list<const char*> allowed) {
    std::string list;
    for (const char* a : allowed) {
        if (v == a) return v;
        list += (list.empty() ? "" : ", ") + std::string(a);
    }
    throw ConfigError(setting, "'" + v + "' is not one of " + list);
}

std::string url(const std::string& v, const std::string& setting) {
    if (v.empty()) return v;  // not set: the command says so if it needs one
    try {
        http::parse_url(v);
    } catch (const std::invalid_argument& e) {
        throw ConfigError(setting, e.what());
    }
    return v;
}

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> items;
    std::string current;
    auto flush = [&] {
        auto b = current.find_first_not_of(" \t\r\n");
        auto e = current.find_last_not_of(" \t\r\n");
        if (b != std::string::npos) items.push_back(current.substr(b, e - b + 1));
        current.clear();
    };
    for (char c : text) {
        if (c == ',' || c == '\n') flush();
        else current += c;
    }
    flush();
    return items;
}

std::string join(const std::vector<std::string>& items) {
    std::string all;
    for (const auto& i : items) all += (all.empty() ? "" : ",") + i;
    return all;
}

Option address(Option o, std::optional<ListenAddress> Config::*optional_field, ListenAddress Config::*field) {
    o.value_name = "ADDRESS:PORT";
    o.set = [=](Target t, const std::string& v, const std::string& setting) {
        if (field) t.config.*field = parse_listen_address(v, setting);
        else if (v.empty()) t.config.*optional_field = std::nullopt;  // none: as check-config shows it
        else t.config.*optional_field = parse_listen_address(v, setting);
    };
    o.show = [=](const Config& c) {
        if (field) return (c.*field).to_string();
        return c.*optional_field ? (c.*optional_field)->to_string() : std::string();
    };
    if (field) o.default_text = (Config{}.*field).to_string();
    return o;
}

Option secret(std::string name, unsigned commands, std::string help, std::string Config::*field) {
    Option o = declare(Source::secret, std::move(name), commands, "Secrets", std::move(help));
    o.set = [=](Target t, const std::string& v, const std::string&) { t.config.*field = v; };
    o.show = [=](const Config& c) { return (c.*field).empty() ? "not set" : "set (redacted)"; };
    return o;
}

std::string kind_name(const std::string& v, const std::string& setting, bool unclassified_too) {
    auto kind = kind_from_string(v);
    if (!kind || (!unclassified_too && *kind == Kind::unclassified))
        throw ConfigError(setting, "'" + v + "' is not eventsinfo, eventimpact, hoteldemand" +
                                       (unclassified_too ? " or unclassified" : ""));
    return v;
}

// --auth of register and of simulate: the same choice, with each command's own default.
Option auth_choice(unsigned commands, std::string section, const std::string& help, std::string default_text) {
    Option o = declare(Source::command, "auth", commands, std::move(section), "basic or bearer: " + help);
    o.default_text = std::move(default_text);
    return text(std::move(o), &CommandOptions::auth, "basic|bearer",
                [](const std::string& v, const std::string& s) { return one_of(v, s, {"basic", "bearer"}); });
}

std::vector<Option> build() {
    std::vector<Option> all;
    const auto add = [&all](Option o) { all.push_back(std::move(o)); };
    using S = Source;

    add(declare(S::toggle, "help", every, "General", "show this help and exit"));
    {
        Option o = declare(S::setting, "config", every, "General",
                           "read settings from this file, 'name = value' lines; one file serves every command, "
                           "each reading the keys it uses");
        o.value_name = "FILE";
        o.set = [](Target, const std::string&, const std::string&) {};  // read by the loader itself
        add(std::move(o));
    }
    add(text(declare(S::setting, "log-level", every, "General", "debug, info, warning or error"), &Config::log_level,
             "LEVEL", [](const std::string& v, const std::string& s) {
                 return one_of(v, s, {"debug", "info", "warning", "error"});
             }));

    {
        Option o = text(declare(S::setting, "database-url", database, "Database",
                                "libpq connection string or URI (required); its password belongs in the "
                                "database-password secret"),
                        &Config::database_url, "URL", [](const std::string& v, const std::string& s) {
                            // libpq's own parser, so what passes here is what the connections get.
                            try {
                                db::with_connection_defaults(v);
                            } catch (const std::invalid_argument& e) {
                                throw ConfigError(s, std::string("cannot be parsed: ") + e.what());
                            }
                            return v;
                        });
        o.show = [](const Config& c) { return db::redacted_connection_string(c.database_url); };
        add(std::move(o));
    }
    add(number(declare(S::setting, "db-writers", serve, "Database", "writer threads, one connection each"),
               &Config::db_writers, 1, 64));
    add(number(declare(S::setting, "queue-capacity", serve, "Database", "deliveries waiting for a writer before 503"),
               &Config::queue_capacity, 1, 1'000'000));
    add(number(declare(S::setting, "queue-max-bytes", serve, "Database",
                       "body bytes waiting for a writer before 503 (or the spool); one delivery always gets in"),
               &Config::queue_max_bytes, 1 << 16, 1ull << 40));
    add(number(declare(S::setting, "batch-max", serve, "Database", "deliveries committed in one transaction at most"),
               &Config::batch_max, 1, 10'000));
    add(number(declare(S::setting, "large-body-bytes", serve | reprocess, "Database",
                       "bodies from this size are parsed streaming, on the large-delivery lane; at most "
                       "--max-body-bytes"),
               &Config::large_body_bytes, 1, 1ull << 40));
    add(number(declare(S::setting, "large-queue-capacity", serve, "Database", "large deliveries waiting before 503"),
               &Config::large_queue_capacity, 1, 1000));
    {
        Option o = declare(S::setting, "state-dir", serve, "Database",
                           "directory of the spool that keeps deliveries while PostgreSQL cannot take them");
        o.default_text = "$STATE_DIRECTORY; none: no spool";
        add(text(std::move(o), &Config::state_dir, "DIR"));
    }
    add(number(declare(S::setting, "spool-max-bytes", serve, "Database",
                       "spool size limit, beyond it 503; at least --max-body-bytes"),
               &Config::spool_max_bytes, 1, 1ull << 50));
    {
        Option o = duration(declare(S::setting, "statement-timeout", serve, "Database",
                                    "PostgreSQL statement_timeout for the daemon's statements, 0: none"),
                            &Config::statement_timeout, std::chrono::milliseconds(0));
        add(std::move(o));
    }
    add(duration(declare(S::setting, "health-interval", serve, "Database", "how often readiness is checked"),
                 &Config::health_interval, std::chrono::milliseconds(10)));

    add(address(declare(S::setting, "listen", serve, "HTTP", "address:port, [v6]:port for IPv6"), nullptr,
                &Config::listen));
    add(text(declare(S::setting, "base-path", serve, "HTTP", "path prefix, when a proxy mounts the daemon under one"),
             &Config::base_path, "PATH", [](const std::string& v, const std::string& s) {
                 std::string p = v;
                 while (!p.empty() && p.back() == '/') p.pop_back();
                 if (!p.empty() && p.front() != '/') throw ConfigError(s, "must start with '/'");
                 if (p.find_first_of("?# ") != std::string::npos) throw ConfigError(s, "must be a plain path");
                 return p;
             }));
    {
        Option o = declare(S::setting, "threads", serve, "HTTP", "network threads");
        o.default_text = "number of cores";
        add(number(std::move(o), &Config::threads, 1, 256));
    }
    // PostgreSQL keeps at most 1 GB in one value: a larger body could be acknowledged (spooled) and
    // then never stored.
    add(number(declare(S::setting, "max-body-bytes", serve, "HTTP", "largest body accepted"), &Config::max_body_bytes,
               1, 1'000'000'000));
    add(number(declare(S::setting, "max-header-bytes", serve, "HTTP", "largest request header"),
               &Config::max_header_bytes, 1024, 1 << 20));
    add(number(declare(S::setting, "max-connections", serve, "HTTP", "connections open at once"),
               &Config::max_connections, 1, 1'000'000));
    add(number(declare(S::setting, "max-connections-per-address", serve, "HTTP",
                       "connections one client address may hold, trusted proxies exempt; 0: no limit"),
               &Config::max_connections_per_address, 0, 1'000'000));
    add(duration(declare(S::setting, "header-timeout", serve, "HTTP", "time to send a request header"),
                 &Config::header_timeout, std::chrono::milliseconds(1)));
    add(duration(declare(S::setting, "body-timeout", serve, "HTTP", "time to send a request body"),
                 &Config::body_timeout, std::chrono::milliseconds(1)));
    add(number(declare(S::setting, "min-body-rate", serve, "HTTP",
                       "bytes per second a body must average once --body-rate-grace has passed; 0: no floor"),
               &Config::min_body_rate, 0, 1ull << 40));
    // A body cannot keep up with a rate from its first moment.
    add(duration(declare(S::setting, "body-rate-grace", serve, "HTTP", "time a body gets before --min-body-rate applies"),
                 &Config::body_rate_grace, std::chrono::seconds(1)));
    add(duration(declare(S::setting, "idle-timeout", serve, "HTTP", "keep-alive wait for the next request"),
                 &Config::idle_timeout, std::chrono::milliseconds(1)));
    add(duration(declare(S::setting, "shutdown-grace", serve, "HTTP", "time in-flight requests get on SIGTERM"),
                 &Config::shutdown_grace, std::chrono::milliseconds(0)));
    add(address(declare(S::setting, "metrics-listen", serve, "HTTP",
                        "serve /metrics (with /healthz, /readyz) on this address:port instead of the main one"),
                &Config::metrics_listen, nullptr));
    add(number(declare(S::setting, "auth-failure-limit", serve, "HTTP",
                       "failed authentications an address may make per window before it gets 429; 0: no limit"),
               &Config::auth_failure_limit, 0, 1'000'000));
    add(duration(declare(S::setting, "auth-failure-window", serve, "HTTP", "the window of --auth-failure-limit"),
                 &Config::auth_failure_window, std::chrono::milliseconds(1)));
    {
        Option o = declare(S::setting, "trusted-proxies", serve, "HTTP",
                           "addresses or CIDR blocks, comma-separated, whose X-Forwarded-For names the client");
        o.value_name = "CIDRS";
        o.set = [](Target t, const std::string& v, const std::string& setting) {
            t.config.trusted_proxies.clear();
            for (const auto& cidr : split_list(v)) {
                if (!parse_cidr(cidr))
                    throw ConfigError(setting, "'" + cidr + "' is not an address or CIDR block");
                // Trusting every address lets any client choose the address it is counted under.
                if (cidr.ends_with("/0"))
                    throw ConfigError(setting, "'" + cidr + "' trusts every address: name the proxies' own addresses");
                t.config.trusted_proxies.push_back(cidr);
            }
        };
        o.show = [](const Config& c) { return join(c.trusted_proxies); };
        add(std::move(o));
    }

    add(text(declare(S::setting, "basic-user", serve | simulate | register_, "Credentials",
                     "the user EventsShop presents with Basic auth (its password: the basic-password secret)"),
             &Config::basic_user, "USER", [](const std::string& v, const std::string& s) {
                 if (v.find(':') != std::string::npos) throw ConfigError(s, "must not contain ':'");
                 return v;
             }));

    {
        Option o = text(declare(S::setting, "api-base", register_, "Register",
                                "EventsShop's API, e.g. https://api.example.com/api/v1 (no default is published)"),
                        &Config::eventsshop_api, "URL", url);
        o.variable = "ESR_EVENTSSHOP_API";
        add(std::move(o));
    }
    add(text(declare(S::setting, "eventsshop-user", register_, "Register",
                     "the EventsShop account to log in with (its password: the eventsshop-password secret)"),
             &Config::eventsshop_user, "USER"));
    add(text(declare(S::command, "endpoint", register_, "Register",
                     "the public URL EventsShop will call: the reverse proxy's, not the listen address"),
             &CommandOptions::endpoint, "URL", url));
    add(auth_choice(register_, "Register", "which of the daemon's credentials EventsShop will present",
                    "basic if --basic-user is set, else bearer"));
    add(text(declare(S::command, "ca-file", register_, "Register", "trust this CA too (PEM), for a private CA"),
             &CommandOptions::ca_file, "FILE"));
    add(number(declare(S::command, "max-attempts", register_, "Register",
                       "attempts per call when EventsShop answers 429 or 5xx"),
               &CommandOptions::max_attempts, 1, 100));
    add(duration(declare(S::command, "timeout", register_, "Register", "how long to wait for each answer"),
                 &CommandOptions::timeout, std::chrono::milliseconds(1)));
    {
        Option o = declare(S::toggle, "dry-run", register_, "Register",
                           "print the requests it would send, secrets redacted, and send nothing");
        o.set = [](Target t, const std::string&, const std::string&) { t.command.dry_run = true; };
        add(std::move(o));
    }

    // Days, not a DURATION: retention is counted in days and drops whole months.
    add(number(declare(S::setting, "keep-demand-days", prune, "Retention",
                       "days of demand history (hotel_demand, demand_event_records) kept; 0 keeps all"),
               &Config::keep_demand_days, 0, 36500));
    add(number(declare(S::setting, "keep-body-days", prune, "Retention",
                       "days of raw bodies (deliveries) kept; 0 keeps all. Digests stay: a pruned body is "
                       "still a duplicate"),
               &Config::keep_body_days, 0, 36500));
    add(number(declare(S::setting, "keep-rejected-days", prune, "Retention",
                       "days of rejected deliveries kept; 0 keeps all"),
               &Config::keep_rejected_days, 0, 36500));
    {
        Option o = declare(S::toggle, "dry-run", prune, "Retention",
                           "print what would be dropped and its size, and drop nothing");
        o.set = [](Target t, const std::string&, const std::string&) { t.command.dry_run = true; };
        add(std::move(o));
    }

    add(text(declare(S::command, "url", simulate, "Simulate", "the receiver's URL"), &CommandOptions::url, "URL", url));
    add(auth_choice(simulate, "Simulate", "which of the daemon's credentials to present",
                    "bearer if a token is configured, else basic"));
    add(text(declare(S::command, "file", simulate, "Simulate", "send this body, or every file in this directory, once each"),
             &CommandOptions::file, "PATH"));
    {
        Option o = declare(S::command, "kind", simulate, "Simulate", "generate bodies of this kind");
        o.default_text = "eventsinfo";
        add(text(std::move(o), &CommandOptions::kind, "KIND",
                 [](const std::string& v, const std::string& s) { return kind_name(v, s, false); }));
    }
    add(number(declare(S::command, "count", simulate, "Simulate", "how many generated deliveries"),
               &CommandOptions::count, 1, 100'000'000));
    add(number(declare(S::command, "concurrency", simulate, "Simulate", "connections sending at once"),
               &CommandOptions::concurrency, 1, 1024));
    add(number(declare(S::command, "hotels", simulate, "Simulate", "hoteldemand: hotels in the city matrix"),
               &CommandOptions::hotels, 1, 100'000));
    add(number(declare(S::command, "days", simulate, "Simulate", "hoteldemand: days in the city matrix"),
               &CommandOptions::days, 1, 3660));
    add(number(declare(S::command, "seed", simulate, "Simulate", "seed for generated bodies: the same seed, the same bodies"),
               &CommandOptions::seed, 0, UINT64_MAX));

    {
        Option o = declare(S::command, "kind", reprocess, "Reprocess", "only deliveries now of this kind");
        o.default_text = "every kind";
        add(text(std::move(o), &CommandOptions::kind, "KIND",
                 [](const std::string& v, const std::string& s) { return kind_name(v, s, true); }));
    }
    {
        Option o = declare(S::command, "since", reprocess, "Reprocess",
                           "only deliveries received at or after this time, e.g. 2026-03-01 or '2026-03-01 12:00+00'");
        o.default_text = "all";
        add(text(std::move(o), &CommandOptions::since, "TIME"));
    }

    add(secret("database-password", database, "the database password, if the database URL needs one",
               &Config::database_password));
    add(secret("basic-password", serve | simulate | register_, "the Basic password", &Config::basic_password));
    {
        Option o = secret("bearer-tokens", serve | simulate | register_, "accepted Bearer tokens, comma-separated",
                          nullptr);
        o.set = [](Target t, const std::string& v, const std::string&) { t.config.bearer_tokens = split_list(v); };
        o.show = [](const Config& c) { return std::to_string(c.bearer_tokens.size()) + " set (redacted)"; };
        add(std::move(o));
    }
    add(secret("metrics-token", serve, "the Bearer token /metrics asks for; none: /metrics is open", &Config::metrics_token));
    add(secret("eventsshop-password", register_, "the EventsShop account's password", &Config::eventsshop_password));

    for (auto& o : all) {
        if (!o.default_text.empty() && o.source != Source::secret) o.help += " [" + o.default_text + "]";
        if (o.source == Source::setting) o.help += " " + o.variable;
    }
    return all;
}

}  // namespace

std::string Option::setting() const {
    if (source == Source::secret) return variable;
    if (source == Source::setting) return "--" + name + " (" + variable + ")";
    return "--" + name;
}

const std::vector<Option>& table() {
    static const std::vector<Option> options = build();
    return options;
}

const Option* find(const std::string& name, Command command) {
    for (const auto& o : table())
        if (o.name == name && o.used_by(command)) return &o;
    return nullptr;
}

std::string format_duration(std::chrono::milliseconds d) {
    return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + "s" : std::to_string(d.count()) + "ms";
}

}  // namespace esr::options
