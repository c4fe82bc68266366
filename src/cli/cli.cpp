#include "esr/cli.hpp"

#include "esr/auth.hpp"
#include "esr/config_loader.hpp"
#include "esr/db/delivery_writer.hpp"
#include "esr/db/migrations.hpp"
#include "esr/db/readiness_monitor.hpp"
#include "esr/db/reprocess.hpp"
#include "esr/http/handler.hpp"
#include "esr/http/server.hpp"
#include "esr/log.hpp"

#include <pqxx/connection>

#include <chrono>
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
    "\n"
    "Options:\n"
    "  -h, --help     show this help (COMMAND --help shows the command's options)\n"
    "  --version      print the version\n";

int fail_config(const ConfigError& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 2;
}

/// A database the command cannot reach is a configuration error (exit status 2).
std::unique_ptr<pqxx::connection> connect_for_command(const std::string& url) {
    try {
        return std::make_unique<pqxx::connection>(url);
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
    auto connection = connect_for_command(config.database_url);
    try {
        int applied = db::migrate(*connection);
        std::cout << "schema at version " << db::applied_schema_version(*connection) << " (" << applied
                  << " migration" << (applied == 1 ? "" : "s") << " applied)\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << program << ": migrate failed: " << e.what() << "\n";
        return 1;
    }
}

int run_reprocess(const std::vector<std::string>& args) {
    auto l = load(Command::reprocess, "reprocess",
                  "Derives the typed tables (events, event_impacts, hotel_demand, ...) again from the\n"
                  "bodies stored in eventsshop.deliveries, including unclassified ones a newer version\n"
                  "understands. Idempotent: run it after an upgrade that changes the mapping.",
                  args);
    if (l.exit_code >= 0) return l.exit_code;
    auto connection = connect_for_command(l.loaded.config.database_url);
    db::ReprocessFilter filter;
    if (l.loaded.reprocess_kind) filter.kind = kind_from_string(*l.loaded.reprocess_kind);
    filter.since = l.loaded.reprocess_since;
    auto last_report = std::chrono::steady_clock::now();
    auto line = [](const db::ReprocessProgress& p) {
        return std::to_string(p.done) + "/" + std::to_string(p.total) + " deliveries, " +
               std::to_string(p.reclassified) + " reclassified, " + std::to_string(p.records) + " typed rows, " +
               std::to_string(p.skipped) + " skipped";
    };
    try {
        auto result = db::reprocess(*connection, filter, [&](const db::ReprocessProgress& p) {
            if (std::chrono::steady_clock::now() - last_report < std::chrono::seconds(2)) return;
            last_report = std::chrono::steady_clock::now();
            std::cerr << "reprocess: " << line(p) << "\n";
        });
        std::cout << "reprocessed " << line(result) << "\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << program << ": reprocess failed: " << e.what() << "\n";
        return 1;
    }
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

    db::ReadinessMonitor readiness(config);
    readiness.start();
    db::DeliveryWriter writer(config);
    writer.start();
    Authenticator auth(config);
    http::Handler handler(config, auth, writer, readiness);
    http::Server server(config, handler);
    try {
        server.start();
    } catch (const ConfigError& e) {
        return fail_config(e);
    }
    server.run_until_signal();
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
    } catch (const ConfigError& e) {
        return fail_config(e);
    } catch (const std::exception& e) {
        log::error("fatal", {{"error", e.what()}});
        return 1;
    }
    std::cerr << program << ": unknown command '" << command << "'\n\n" << usage;
    return 2;
}

}  // namespace esr::cli
