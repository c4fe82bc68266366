#include "esr/cli.hpp"

#include "esr/auth.hpp"
#include "esr/encoding.hpp"
#include "esr/heap.hpp"
#include "esr/config_loader.hpp"
#include "esr/db/delivery_writer.hpp"
#include "esr/db/migrations.hpp"
#include "esr/db/readiness_monitor.hpp"
#include "esr/db/reprocess.hpp"
#include "esr/db/retention.hpp"
#include "esr/eventsshop/register.hpp"
#include "esr/http/client.hpp"
#include "esr/http/handler.hpp"
#include "db/connection.hpp"
#include "systemd_notify.hpp"
#include "esr/http/server.hpp"
#include "esr/log.hpp"
#include "esr/sim/simulate.hpp"
#include "esr/spool/spool.hpp"

#include <pqxx/connection>

#include <sys/resource.h>
#include <unistd.h>


#include <algorithm>
#include <charconv>
#include <cstdio>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>

#ifndef ESR_VERSION
#define ESR_VERSION "0.0.0-unknown"
#endif

namespace esr::cli {
namespace {

constexpr const char* program = "eventsshop-receiver";

const char* usage =
    "Usage: eventsshop-receiver COMMAND [OPTIONS]\n"
    "\n"
    "Receives EventsShop webhook deliveries over HTTP and stores them in PostgreSQL.\n"
    "\n"
    "Commands:\n"
    "  serve          run the HTTP receiver\n"
    "  migrate        create or upgrade the database schema\n"
    "  check-config   validate the configuration and print the effective values\n"
    "  reprocess      derive the typed tables again from the stored bodies\n"
    "  prune          drop the history older than the configured retention (daily timer)\n"
    "  register       tell EventsShop the URL to push to, with the credentials the daemon accepts\n"
    "  simulate       send EventsShop-like deliveries to a receiver (demos, tests, load)\n"
    "\n"
    "Options:\n"
    "  -h, --help     show this help (COMMAND --help shows the command's options)\n"
    "  --version      print the version\n";

/// A command's failure, said once: plain text to a person at a terminal, otherwise (the journal, a
/// container's log) one JSON line like every other line the daemon writes, so `jq` reads them all.
int fail(int status, const std::string& message, boost::json::object fields = {}) {
    if (::isatty(STDERR_FILENO)) {
        std::cerr << program << ": " << message << "\n";
    } else {
        fields["exit_status"] = status;
        log::write(log::Level::error, message, fields);
    }
    return status;
}

int fail_config(const ConfigError& e) { return fail(2, e.what(), {{"setting", e.setting()}}); }

/// A database the command cannot reach is a configuration error (exit status 2). The session
/// settings are the daemon's (durable commits, timeouts), with no statement timeout.
std::unique_ptr<pqxx::connection> connect_for_command(const Config& config, const std::string& command) {
    try {
        return db::connect(config.database_url, config.database_password, command, std::nullopt);
    } catch (const std::exception& e) {
        std::string msg = e.what();
        throw ConfigError("--database-url (ESR_DATABASE_URL)", "cannot connect: " + msg.substr(0, msg.find('\n')));
    }
}

struct Loaded {
    LoadedConfig loaded;
    int exit_code = -1;  // >= 0 when the command is already done (help shown, error reported)
};

Loaded load(Command command, const char* name, const char* summary, const std::vector<std::string>& args) {
    Loaded l;
    try {
        l.loaded = load_config(command, args, process_environment());
        log::set_level(l.loaded.config.log_level);
    } catch (const ConfigError& e) {
        l.exit_code = fail_config(e);
        return l;
    }
    if (l.loaded.help) {
        std::cout << "Usage: " << program << " " << name << " [OPTIONS]\n\n" << summary << "\n\n" << l.loaded.help_text;
        l.exit_code = 0;
    }
    return l;
}

int run_migrate(const std::vector<std::string>& args) {
    auto l = load(Command::migrate, "migrate",
                  "Applies the numbered migrations of schema/ (compiled in) that the database lacks.\n"
                  "Running it again is harmless.",
                  args);
    if (l.exit_code >= 0) return l.exit_code;
    const Config& config = l.loaded.config;
    auto connection = connect_for_command(config, "migrate");
    int applied = db::migrate(*connection);
    std::cout << "schema at version " << db::applied_schema_version(*connection) << " (" << applied << " migration"
              << (applied == 1 ? "" : "s") << " applied)\n";
    return 0;
}

int run_reprocess(const std::vector<std::string>& args) {
    auto l = load(Command::reprocess, "reprocess",
                  "Derives the typed tables (events, event_impacts, hotel_demand, ...) again from the\n"
                  "bodies stored in eventsshop.deliveries, including unclassified ones a newer version\n"
                  "understands. Idempotent: run it after an upgrade that changes the mapping.",
                  args);
    if (l.exit_code >= 0) return l.exit_code;
    auto connection = connect_for_command(l.loaded.config, "reprocess");
    db::ReprocessFilter filter;
    const CommandOptions& o = l.loaded.command;
    if (!o.kind.empty()) filter.kind = kind_from_string(o.kind);
    if (!o.since.empty()) filter.since = o.since;
    filter.large_body_bytes = l.loaded.config.large_body_bytes;
    auto last_report = std::chrono::steady_clock::now();
    auto line = [](const db::ReprocessProgress& p) {
        return std::to_string(p.done) + "/" + std::to_string(p.total) + " deliveries, " +
               std::to_string(p.reclassified) + " reclassified, " + std::to_string(p.records) + " typed rows, " +
               std::to_string(p.skipped) + " skipped, " + std::to_string(p.failed) + " failed";
    };
    auto result = db::reprocess(*connection, filter, [&](const db::ReprocessProgress& p) {
        if (std::chrono::steady_clock::now() - last_report < std::chrono::seconds(2)) return;
        last_report = std::chrono::steady_clock::now();
        std::cerr << "reprocess: " << line(p) << "\n";
    });
    std::cout << "reprocessed " << line(result) << "\n";
    // Their typed rows stay as they were derived: say so, rather than let "reprocessed" suggest all.
    for (const auto& m : db::pruned_bodies(*connection, filter.since.value_or("")))
        std::cout << "not rebuilt: " << m.deliveries << " deliveries received " << m.from << " to " << m.to
                  << " (ids " << m.first_id << " to " << m.last_id << "), their bodies pruned (" << m.partition
                  << ")\n";
    if (result.failed == 0) return 0;
    // Finished, but some deliveries keep their earlier typed rows: say which, and exit 1.
    std::cout << "deliveries whose typed rows could not be written (see the log):";
    for (auto id : result.failed_ids) std::cout << " " << id;
    if (result.failed > static_cast<std::int64_t>(result.failed_ids.size())) std::cout << " ...";
    std::cout << "\n";
    return 1;
}

std::string megabytes(std::int64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
    return text;
}

int run_prune(const std::vector<std::string>& args) {
    auto l = load(Command::prune, "prune",
                  "Drops the history older than the retention settings (--keep-demand-days,\n"
                  "--keep-body-days, --keep-rejected-days; 0, the default, keeps everything): whole\n"
                  "monthly partitions of eventsshop.deliveries and eventsshop.hotel_demand, and old rows\n"
                  "of demand_event_records and rejected_deliveries. Prints each with its size; exit\n"
                  "status 1 if one could not be dropped (the next run tries again). The package's\n"
                  "eventsshop-receiver-prune.timer runs it daily.",
                  args);
    if (l.exit_code >= 0) return l.exit_code;
    const Config& config = l.loaded.config;
    const bool dry_run = l.loaded.command.dry_run;
    db::RetentionPolicy policy{config.keep_demand_days, config.keep_body_days, config.keep_rejected_days};
    if (!policy.demand_history_days && !policy.body_days && !policy.rejected_days) {
        std::cout << "nothing to prune: every history is kept (no --keep-*-days set)\n";
        return 0;
    }
    auto connection = connect_for_command(config, "prune");
    std::int64_t bytes = 0;
    int failed = 0;
    auto steps = db::prune(*connection, policy, dry_run, [&](const db::PruneStep& s) {
        std::cout << (s.done ? "dropped " : !s.error.empty() ? "failed to drop " : !s.kept.empty() ? "kept " : "would drop ")
                  << s.table;
        if (s.what == "rows") std::cout << ": " << s.rows << " rows";
        else std::cout << " " << s.what << " (" << s.from << " to " << s.to << "): " << (s.done ? "" : "about ") << s.rows << " rows";
        std::cout << ", " << megabytes(s.bytes) << (s.error.empty() ? "" : ": " + s.error)
                  << (s.kept.empty() ? "" : ": " + s.kept) << "\n";
        if (!s.error.empty()) ++failed;
        else if (s.kept.empty()) bytes += s.bytes;
    });
    const auto done = std::count_if(steps.begin(), steps.end(), [&](const db::PruneStep& s) {
        return s.error.empty() && s.kept.empty();
    });
    std::cout << (dry_run ? "would free " : "freed ") << megabytes(bytes) << " in " << done << (done == 1 ? " step" : " steps")
              << "\n";
    return failed ? 1 : 0;
}

int run_simulate(const std::vector<std::string>& args) {
    auto l = load(Command::simulate, "simulate",
                  "Sends EventsShop-like deliveries to a receiver with the credentials the daemon is\n"
                  "configured to accept (same environment and config file): the files given, or bodies\n"
                  "generated from a seed. Prints a summary; exit status 1 if any delivery was not\n"
                  "acknowledged (2xx).",
                  args);
    if (l.exit_code >= 0) return l.exit_code;
    const Config& config = l.loaded.config;
    const CommandOptions& o = l.loaded.command;
    sim::SimulateOptions s;
    s.target = http::parse_url(o.url);
    const std::string auth = !o.auth.empty() ? o.auth : config.bearer_tokens.empty() ? "basic" : "bearer";
    if (auth == "bearer") {
        if (config.bearer_tokens.empty()) return fail_config(ConfigError("ESR_BEARER_TOKENS", "not set, but --auth is bearer"));
        s.authorization = "Bearer " + config.bearer_tokens.front();
    } else {
        if (config.basic_user.empty()) return fail_config(ConfigError("--basic-user (ESR_BASIC_USER)", "not set, but --auth is basic"));
        s.authorization = "Basic " + encode_base64(config.basic_user + ":" + config.basic_password);
    }
    if (!o.file.empty()) {
        std::filesystem::path p = o.file;
        std::error_code ec;
        if (std::filesystem::is_directory(p, ec)) {
            for (const auto& e : std::filesystem::directory_iterator(p))
                if (e.is_regular_file()) s.files.push_back(e.path());
            std::sort(s.files.begin(), s.files.end());
        } else if (std::filesystem::is_regular_file(p, ec)) {
            s.files.push_back(p);
        }
        if (s.files.empty()) return fail_config(ConfigError("--file", "no file to send at '" + p.string() + "'"));
    }
    s.kind = kind_from_string(o.kind).value_or(Kind::eventsinfo);
    s.count = o.count;
    s.concurrency = o.concurrency;
    s.hotels = o.hotels;
    s.days = o.days;
    s.seed = o.seed;

    auto total = s.files.empty() ? s.count : s.files.size();
    auto report = sim::simulate(s, [&](const sim::SimulateReport& r) {
        std::cerr << "simulate: " << r.sent << "/" << total << " sent, " << r.acknowledged << " acknowledged, "
                  << static_cast<std::uint64_t>(static_cast<double>(r.sent) / std::max(r.seconds, 1e-9)) << "/s\n";
    });
    std::cout << "sent " << report.sent << " deliveries (" << report.bytes << " bytes) in " << report.seconds
              << " s: " << static_cast<std::uint64_t>(static_cast<double>(report.sent) / std::max(report.seconds, 1e-9))
              << " deliveries/s\nstatus:";
    for (const auto& [status, n] : report.statuses) std::cout << " " << status << " x" << n;
    if (report.failed) std::cout << " no answer x" << report.failed;
    std::cout << "\nlatency: p50 " << std::chrono::duration<double, std::milli>(report.p50).count() << " ms, p99 " << std::chrono::duration<double, std::milli>(report.p99).count()
              << " ms\nacknowledged " << report.acknowledged << " of " << report.sent << "\n";
    return report.acknowledged == report.sent ? 0 : 1;
}

int run_register(const std::vector<std::string>& args) {
    auto l = load(Command::register_endpoint, "register",
                  "Logs in to the EventsShop API (ESR_EVENTSSHOP_USER, ESR_EVENTSSHOP_PASSWORD or\n"
                  "ESR_EVENTSSHOP_PASSWORD_FILE) and registers --endpoint as the hook URL, with the\n"
                  "credentials this daemon is configured to accept (same environment and config file),\n"
                  "so EventsShop cannot be told credentials the daemon would reject.",
                  args);
    if (l.exit_code >= 0) return l.exit_code;
    const Config& config = l.loaded.config;
    const CommandOptions& o = l.loaded.command;

    eventsshop::Registration r;
    if (config.eventsshop_api.empty())
        return fail_config(ConfigError("--api-base (ESR_EVENTSSHOP_API)", "not set (no default is published)"));
    r.api_base = http::parse_url(config.eventsshop_api);
    if (o.endpoint.empty()) return fail_config(ConfigError("--endpoint", "not set"));
    r.endpoint = o.endpoint;
    r.account_user = config.eventsshop_user;
    r.account_password = config.eventsshop_password;
    if (r.account_user.empty()) return fail_config(ConfigError("--eventsshop-user (ESR_EVENTSSHOP_USER)", "not set"));
    if (r.account_password.empty()) return fail_config(ConfigError("ESR_EVENTSSHOP_PASSWORD", "not set"));
    const std::string auth = !o.auth.empty() ? o.auth : config.basic_user.empty() ? "bearer" : "basic";
    if (auth == "basic") {
        if (config.basic_user.empty())
            return fail_config(ConfigError("--basic-user (ESR_BASIC_USER)", "not set, but --auth is basic"));
        r.basic = true;
        r.basic_user = config.basic_user;
        r.basic_password = config.basic_password;
    } else {
        if (config.bearer_tokens.empty()) return fail_config(ConfigError("ESR_BEARER_TOKENS", "not set, but --auth is bearer"));
        r.basic = false;
        r.token = config.bearer_tokens.front();
    }
    if (o.dry_run) {
        std::cout << eventsshop::describe(r);
        return 0;
    }
    eventsshop::RetryPolicy retry;
    retry.max_attempts = static_cast<int>(o.max_attempts);
    std::optional<http::Client> client;
    try {
        client.emplace(http::ClientOptions{o.ca_file.empty() ? std::nullopt : std::optional(o.ca_file), o.timeout});
    } catch (const http::ClientError& e) {
        return fail_config(ConfigError("--ca-file", e.what()));
    }
    auto result = eventsshop::register_endpoint(*client, r, retry);
    (result.exit_status == 0 ? std::cout : std::cerr) << (result.exit_status == 0 ? "" : "eventsshop-receiver: ")
                                                      << result.message << "\n";
    if (result.generated_token) {
        std::cout << "EventsShop generated a token for this hook: " << *result.generated_token << "\n"
                  << "Add it to ESR_BEARER_TOKENS (comma-separated, keeping the current ones) and restart the\n"
                     "daemon, so deliveries that present it are accepted too.\n";
    }
    return result.exit_status;
}

int run_check_config(const std::vector<std::string>& args) {
    auto l = load(Command::check_config, "check-config",
                  "Validates the configuration as 'serve' would read it and prints the effective\n"
                  "values (secrets redacted). Exit status 2 names the first setting at fault.",
                  args);
    if (l.exit_code >= 0) return l.exit_code;
    if (!l.loaded.config_file.empty()) std::cout << "# read from " << l.loaded.config_file << "\n";
    std::cout << describe_config(l.loaded.config);
    return 0;
}

int run_serve(const std::vector<std::string>& args) {
    auto l = load(Command::serve, "serve",
                  "Runs the HTTP receiver: POST deliveries to the base path (kind classified) or to\n"
                  "/eventsinfo, /eventimpact, /hoteldemand; GET /healthz and /readyz for probes.",
                  args);
    if (l.exit_code >= 0) return l.exit_code;
    const Config& config = l.loaded.config;
    heap::return_large_blocks();

    // Every connection is a descriptor, and so are the spool, PostgreSQL's and the log's: a limit
    // below --max-connections would turn a busy moment into failed accepts.
    {
        const rlim_t needed = config.max_connections + 64;
        rlimit files{};
        ::getrlimit(RLIMIT_NOFILE, &files);
        if (files.rlim_cur < needed) {
            files.rlim_cur = std::min<rlim_t>(needed, files.rlim_max);
            ::setrlimit(RLIMIT_NOFILE, &files);
        }
        if (files.rlim_cur < needed)
            return fail(2,
                        "--max-connections (ESR_MAX_CONNECTIONS) " + std::to_string(config.max_connections) +
                            " needs " + std::to_string(needed) + " open files; the limit is " +
                            std::to_string(files.rlim_max) + " (raise LimitNOFILE= in the unit, or ulimit -n)",
                        {{"setting", "--max-connections"}});
    }

    // The throttle never refuses valid credentials (or EventsShop could be locked out), so what
    // stops a guesser in the end is the secret's length: say so when it is short.
    if (!config.basic_password.empty() && config.basic_password.size() < 16)
        log::warning("the Basic password is shorter than 16 characters: easy to guess; the package generates 40");

    Metrics metrics;
    db::ReadinessMonitor readiness(config);
    readiness.start();
    // The spool's state directory is locked first: a second daemon on it would lose deliveries.
    std::optional<db::DeliveryWriter> writer_slot;
    try {
        writer_slot.emplace(config, &metrics);
    } catch (const spool::StateDirInUse& e) {
        return fail(2, e.what(), {{"setting", "--state-dir"}});
    } catch (const std::exception& e) {
        return fail_config(ConfigError("--state-dir (ESR_STATE_DIR)", e.what()));
    }
    db::DeliveryWriter& writer = *writer_slot;
    writer.start();
    Authenticator auth(config);
    http::Handler handler(config, auth, writer, readiness, metrics);
    http::Server server(config, handler);
    // SIGHUP (systemctl reload): the credentials and the log level are read again from where they
    // came (variables, *_FILE files, the config file, $CREDENTIALS_DIRECTORY); connections and
    // queued deliveries are untouched. Other settings need a restart.
    server.on_reload([&handler, args] {
        try {
            auto reloaded = load_config(Command::serve, args, process_environment());
            log::set_level(reloaded.config.log_level);
            const Config& c = reloaded.config;
            handler.set_credentials(http::Credentials::from(c));
            log::info("reloaded", {{"basic_user", c.basic_user},
                                   {"bearer_tokens", c.bearer_tokens.size()},
                                   {"metrics_token", !c.metrics_token.empty()},
                                   {"log_level", c.log_level}});
        } catch (const std::exception& e) {
            log::error("reload refused; the running credentials stay", {{"error", e.what()}});
        }
    });
    try {
        server.start();
    } catch (const ConfigError& e) {
        return fail_config(e);
    }
    // Type=notify: systemd counts the service started once it listens; a migration the schema
    // still needs runs on the readiness thread meanwhile, deliveries spooled until it is done.
    // A no-op outside systemd (no $NOTIFY_SOCKET).
    notify_systemd("READY=1\nSTATUS=listening on " + config.listen.to_string());
    server.run_until_signal();
    notify_systemd("STOPPING=1\nSTATUS=draining in-flight deliveries");
    writer.stop();  // after the network: in-flight requests still needed their writes
    readiness.stop();
    log::info("stopped");
    return 0;
}

}  // namespace

int run(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        std::cerr << usage;
        return 2;
    }
    const std::string command = args.front();
    args.erase(args.begin());
    if (command == "--help" || command == "-h" || command == "help") {
        std::cout << usage;
        return 0;
    }
    if (command == "--version" || command == "version") {
        std::cout << program << " " << ESR_VERSION << "\n";
        return 0;
    }
    try {
        if (command == "serve") return run_serve(args);
        if (command == "migrate") return run_migrate(args);
        if (command == "check-config") return run_check_config(args);
        if (command == "reprocess") return run_reprocess(args);
        if (command == "simulate") return run_simulate(args);
        if (command == "register") return run_register(args);
        if (command == "prune") return run_prune(args);
    } catch (const ConfigError& e) {
        return fail_config(e);
    } catch (const std::exception& e) {
        // The one place a command's failure becomes a message and exit status 1.
        return fail(1, command + " failed: " + e.what());
    }
    std::cerr << program << ": unknown command '" << command << "'\n\n" << usage;
    return 2;
}

}  // namespace esr::cli
