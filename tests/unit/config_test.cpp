#include "esr/config_loader.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

using namespace esr;

namespace {

struct Env {
    std::map<std::string, std::string> vars{{"ESR_DATABASE_URL", "postgresql:///db"}, {"ESR_BEARER_TOKENS", "t1"}};
    GetEnv get() const {
        return [this](const std::string& name) -> std::optional<std::string> {
            auto it = vars.find(name);
            if (it == vars.end()) return std::nullopt;
            return it->second;
        };
    }
};

struct TempFile {
    std::filesystem::path path;
    explicit TempFile(const std::string& text) {
        path = std::filesystem::temp_directory_path() / ("esr-config-test-" + std::to_string(std::rand()));
        std::ofstream(path) << text;
    }
    ~TempFile() { std::filesystem::remove(path); }
};

Config load(const std::vector<std::string>& args, const Env& env, Command command = Command::serve) {
    return load_config(command, args, env.get()).config;
}

std::string error_of(const std::vector<std::string>& args, const Env& env, Command command = Command::serve) {
    try {
        load(args, env, command);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(defaults) {
    Config c = load({}, Env{});
    BOOST_TEST(c.listen.to_string() == "127.0.0.1:8080");
    BOOST_TEST(c.max_body_bytes == 256ull << 20);
    BOOST_TEST(c.threads >= 1u);
    BOOST_TEST(c.bearer_tokens == std::vector<std::string>{"t1"});
    BOOST_TEST(c.min_body_rate == 1024u);
    BOOST_TEST(c.body_rate_grace.count() == 10'000);
}

BOOST_AUTO_TEST_CASE(the_body_rate_floor_can_be_set_and_turned_off) {
    Env env;
    env.vars["ESR_MIN_BODY_RATE"] = "0";
    Config c = load({"--body-rate-grace", "2s"}, env);
    BOOST_TEST(c.min_body_rate == 0u);
    BOOST_TEST(c.body_rate_grace.count() == 2'000);
    BOOST_TEST(error_of({"--min-body-rate", "fast"}, env).find("--min-body-rate (ESR_MIN_BODY_RATE)") == 0u);
    BOOST_TEST(error_of({"--body-rate-grace", "0"}, env).find("--body-rate-grace") == 0u);
}

BOOST_AUTO_TEST_CASE(durations_longer_than_a_year_are_refused_in_any_unit) {
    Env env;
    BOOST_TEST(load({"--body-timeout", "525600m"}, env).body_timeout.count() == 31'536'000'000);
    BOOST_TEST(error_of({"--body-timeout", "525601m"}, env).find("longer than a year") != std::string::npos);
    BOOST_TEST(error_of({"--body-timeout", "10000000000"}, env).find("--body-timeout") == 0u);
    BOOST_TEST(error_of({"--idle-timeout", "3h"}, env).find("is not a duration") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(flags_beat_environment_beats_file) {
    TempFile file("listen = 127.0.0.1:7001\nthreads = 3\nmax-body-bytes = 1000\n");
    Env env;
    env.vars["ESR_CONFIG"] = file.path.string();
    env.vars["ESR_THREADS"] = "5";
    env.vars["ESR_LISTEN"] = "127.0.0.1:7002";
    Config c = load({"--listen", "[::1]:7003"}, env);
    BOOST_TEST(c.listen.to_string() == "[::1]:7003");  // flag
    BOOST_TEST(c.threads == 5u);                        // environment
    BOOST_TEST(c.max_body_bytes == 1000u);              // file
}

BOOST_AUTO_TEST_CASE(several_bearer_tokens_from_a_file) {
    TempFile tokens("old-token,\n new-token \n");
    Env env;
    env.vars.erase("ESR_BEARER_TOKENS");
    env.vars["ESR_BEARER_TOKENS_FILE"] = tokens.path.string();
    BOOST_TEST((load({}, env).bearer_tokens == std::vector<std::string>{"old-token", "new-token"}));
}

BOOST_AUTO_TEST_CASE(basic_password_from_file_named_in_config_file) {
    TempFile password("s3cret:with colon\n");
    TempFile file("basic-user = es\nbasic-password-file = " + password.path.string() + "\n");
    Env env;
    env.vars.erase("ESR_BEARER_TOKENS");
    env.vars["ESR_CONFIG"] = file.path.string();
    Config c = load({}, env);
    BOOST_TEST(c.basic_user == "es");
    BOOST_TEST(c.basic_password == "s3cret:with colon");
}

BOOST_AUTO_TEST_CASE(errors_name_the_setting) {
    Env none;
    none.vars.erase("ESR_BEARER_TOKENS");
    BOOST_TEST(error_of({}, none).find("credentials") != std::string::npos);

    Env env;
    BOOST_TEST(error_of({"--listen", "localhost:80"}, env).find("--listen (ESR_LISTEN)") == 0u);
    BOOST_TEST(error_of({"--listen", "127.0.0.1:99999"}, env).find("--listen") == 0u);
    BOOST_TEST(error_of({"--listen", "[::1]8080"}, env).find("--listen") == 0u);
    BOOST_TEST(error_of({"--threads", "many"}, env).find("--threads (ESR_THREADS)") == 0u);
    BOOST_TEST(error_of({"--header-timeout", "soon"}, env).find("--header-timeout") == 0u);
    BOOST_TEST(error_of({"--config", "/nonexistent/esr.conf"}, env).find("--config") == 0u);
    BOOST_TEST(error_of({"--no-such-flag"}, env).find("command line") == 0u);
    BOOST_TEST(error_of({"--trusted-proxies", "10.0.0.0/8,bogus"}, env).find("--trusted-proxies") == 0u);

    Env user_only = env;
    user_only.vars["ESR_BASIC_USER"] = "es";
    BOOST_TEST(error_of({}, user_only).find("ESR_BASIC_PASSWORD") == 0u);

    Env unreadable = env;
    unreadable.vars.erase("ESR_BEARER_TOKENS");
    unreadable.vars["ESR_BEARER_TOKENS_FILE"] = "/nonexistent/tokens";
    BOOST_TEST(error_of({}, unreadable).find("ESR_BEARER_TOKENS_FILE") == 0u);

    Env no_db = env;
    no_db.vars.erase("ESR_DATABASE_URL");
    BOOST_TEST(error_of({}, no_db, Command::migrate).find("--database-url") == 0u);
}

BOOST_AUTO_TEST_CASE(secrets_are_not_flags) {
    BOOST_TEST(error_of({"--basic-password", "x"}, Env{}).find("command line") == 0u);
    BOOST_TEST(error_of({"--bearer-tokens", "x"}, Env{}).find("command line") == 0u);
}

BOOST_AUTO_TEST_CASE(migrate_needs_no_credentials) {
    Env env;
    env.vars.erase("ESR_BEARER_TOKENS");
    BOOST_TEST(load({}, env, Command::migrate).database_url == "postgresql:///db");
}

BOOST_AUTO_TEST_CASE(base_path_is_normalised) {
    BOOST_TEST(load({"--base-path", "/eventsshop/"}, Env{}).base_path == "/eventsshop");
    BOOST_TEST(load({"--base-path", "/"}, Env{}).base_path == "");
    BOOST_TEST(error_of({"--base-path", "eventsshop"}, Env{}).find("--base-path") == 0u);
}

BOOST_AUTO_TEST_CASE(durations) {
    BOOST_TEST(parse_duration("10", "x").count() == 10000);
    BOOST_TEST(parse_duration("10s", "x").count() == 10000);
    BOOST_TEST(parse_duration("250ms", "x").count() == 250);
    BOOST_TEST(parse_duration("2m", "x").count() == 120000);
    BOOST_CHECK_THROW(parse_duration("2h", "x"), ConfigError);
    BOOST_CHECK_THROW(parse_duration("-1s", "x"), ConfigError);
}

BOOST_AUTO_TEST_CASE(describe_redacts_secrets) {
    Env env;
    env.vars["ESR_DATABASE_URL"] = "postgresql://app:hunter2@db/x";
    env.vars["ESR_BASIC_USER"] = "es";
    env.vars["ESR_BASIC_PASSWORD"] = "pw-secret";
    auto text = describe_config(load({}, env));
    BOOST_TEST(text.find("hunter2") == std::string::npos);
    BOOST_TEST(text.find("pw-secret") == std::string::npos);
    BOOST_TEST(text.find("t1") == std::string::npos);
    BOOST_TEST(text.find("basic-user = es") != std::string::npos);
}

// Issue 12: values that cannot mean what the user wants exit 2 naming the setting and the rule.
BOOST_AUTO_TEST_CASE(degenerate_and_contradictory_values_are_refused) {
    Env env;
    auto refused = [&](std::vector<std::string> args, const std::string& setting, Command command = Command::serve) {
        auto e = error_of(args, env, command);
        BOOST_TEST(e.find(setting) != std::string::npos, "expected " << setting << ", got: " << e);
    };
    refused({"--header-timeout", "0s"}, "--header-timeout");
    refused({"--body-timeout", "0s"}, "--body-timeout");
    refused({"--idle-timeout", "0s"}, "--idle-timeout");
    refused({"--health-interval", "0s"}, "--health-interval");
    refused({"--health-interval", "0s"}, "--health-interval", Command::migrate);
    refused({"--auth-failure-window", "0s"}, "--auth-failure-window");
    refused({"--large-body-bytes", "2000", "--max-body-bytes", "1000"}, "--large-body-bytes");
    refused({"--state-dir", "/tmp/x", "--spool-max-bytes", "1000", "--max-body-bytes", "2000"}, "--spool-max-bytes");
    refused({"--trusted-proxies", "10.0.0.0/8,0.0.0.0/0"}, "--trusted-proxies");
    refused({"--trusted-proxies", "::/0"}, "--trusted-proxies");
    refused({"--max-body-bytes", "2000000000"}, "--max-body-bytes");  // over what PostgreSQL keeps in one value
    refused({"--database-url", "postgresql://[oops"}, "--database-url");
    refused({"--database-url", "host=x port"}, "--database-url", Command::reprocess);
    // Sane values still pass.
    BOOST_TEST(error_of({"--large-body-bytes", "1000", "--max-body-bytes", "1000"}, env) == "no error");
    BOOST_TEST(error_of({"--trusted-proxies", "127.0.0.1/32"}, env) == "no error");
}

// Issue 12: every form a libpq connection string can carry a password in is redacted, as libpq
// itself reads the string (the last of repeated keywords wins, quotes and escapes are undone).
BOOST_AUTO_TEST_CASE(check_config_redacts_every_password_form) {
    const std::vector<std::pair<std::string, std::string>> forms{
        {"postgresql://u:s3cret-1@127.0.0.1/x", "s3cret-1"},
        {"postgresql://u@127.0.0.1/x?password=s3cret-2&sslmode=disable", "s3cret-2"},
        {"host=127.0.0.1 user=u password=s3cret-3 dbname=x", "s3cret-3"},
        {"host=127.0.0.1 password='s3cret 4 with \\'quote' dbname=x", "s3cret 4"},
        {"password=first password=s3cret-5 host=h", "s3cret-5"},
        {"host=h password=first password=s3cret-5 sslpassword=s3cret-6", "s3cret-6"},
        {"postgres://u:s3cret%207@h/x", "s3cret"},
    };
    for (const auto& [url, secret] : forms) {
        Config c;
        c.database_url = url;
        auto text = describe_config(c);
        BOOST_TEST(text.find(secret) == std::string::npos, url << " shows its secret:\n" << text);
        BOOST_TEST(text.find("first") == std::string::npos, url);
        BOOST_TEST(text.find("password=***") != std::string::npos, url << ":\n" << text);
    }
    Config c;
    c.database_url = "postgresql://u:leak@[oops";
    BOOST_TEST(describe_config(c).find("leak") == std::string::npos);
}

// Issue 12: the shipped config file serves every command. A key another command uses is ignored
// quietly; a key no command knows is still an error.
BOOST_AUTO_TEST_CASE(one_config_file_serves_every_command) {
    TempFile file("listen = 127.0.0.1:9999\nmax-body-bytes = 1000\ntrusted-proxies = 127.0.0.1\n"
                  "database-url = postgresql:///db\nbasic-user = es\nlog-level = info\n");
    Env env;
    env.vars["ESR_BASIC_PASSWORD"] = "pw";
    for (auto command : {Command::serve, Command::migrate, Command::check_config, Command::reprocess,
                         Command::simulate, Command::register_endpoint, Command::prune})
        BOOST_TEST(error_of({"--config", file.path.string()}, env, command) == "no error",
                   "command " << static_cast<int>(command) << ": " << error_of({"--config", file.path.string()}, env, command));
    TempFile typo("listne = 127.0.0.1:9999\n");
    BOOST_TEST(error_of({"--config", typo.path.string()}, env, Command::migrate).find("listne") != std::string::npos);
}

// A stray ESR_SINCE or ESR_KIND in an environment file must not narrow `reprocess` silently:
// what one run of one command does comes from its flags only.
BOOST_AUTO_TEST_CASE(command_options_come_from_flags_only) {
    Env env;
    env.vars["ESR_SINCE"] = "2030-01-01";
    env.vars["ESR_KIND"] = "hoteldemand";
    auto loaded = load_config(Command::reprocess, {}, env.get());
    BOOST_TEST(loaded.command.since == "");
    BOOST_TEST(loaded.command.kind == "");
    loaded = load_config(Command::reprocess, {"--since", "2026-01-01"}, env.get());
    BOOST_TEST(loaded.command.since == "2026-01-01");
    // In the config file it is ignored (with a warning), by every command: the file serves them all,
    // and a daemon restarted by an upgrade must not stay down over a line meant for another command.
    TempFile file("since = 2030-01-01\nendpoint = https://x.example/\n");
    for (auto command : {Command::reprocess, Command::serve, Command::register_endpoint})
        BOOST_TEST(error_of({"--config", file.path.string()}, env, command) == "no error");
    BOOST_TEST(load_config(Command::reprocess, {"--config", file.path.string()}, env.get()).command.since == "");
}

// Found by review: `dry-run = yes` in the config file was ignored like every flag-only key, so the
// daily timer's prune, meant as a trial, dropped for real. prune refuses it; the daemon does not care.
BOOST_AUTO_TEST_CASE(prune_refuses_a_dry_run_it_would_ignore) {
    Env env;
    env.vars["ESR_DATABASE_URL"] = "postgresql:///db";
    TempFile file("keep-body-days = 30\ndry-run = yes\n");
    BOOST_TEST(error_of({"--config", file.path.string()}, env, Command::prune).find("dry-run") != std::string::npos);
    BOOST_TEST(error_of({"--config", file.path.string(), "--dry-run"}, env, Command::prune).find("dry-run") !=
               std::string::npos);
    BOOST_TEST(load_config(Command::prune, {"--dry-run"}, env.get()).command.dry_run);
}

// An explicit empty value sets a setting to nothing: `state-dir =` turns the spool off even under
// systemd's $STATE_DIRECTORY; an empty flag overrides the file.
BOOST_AUTO_TEST_CASE(an_empty_value_sets_nothing_explicitly) {
    Env env;
    env.vars["STATE_DIRECTORY"] = "/var/lib/eventsshop-receiver";
    BOOST_TEST(load({}, env).state_dir == "/var/lib/eventsshop-receiver");
    TempFile file("state-dir =\nmetrics-listen = 127.0.0.1:9100\ntrusted-proxies = 10.0.0.1\n");
    Config c = load({"--config", file.path.string(), "--metrics-listen", "", "--trusted-proxies", ""}, env);
    BOOST_TEST(c.state_dir == "");
    BOOST_TEST(!c.metrics_listen.has_value());
    BOOST_TEST(c.trusted_proxies.empty());
}

// Issue 12: the database password has a secret channel like the others.
BOOST_AUTO_TEST_CASE(the_database_password_comes_from_a_secret_channel) {
    TempFile secret("db s3cret\n");
    Env env;
    env.vars["ESR_DATABASE_PASSWORD_FILE"] = secret.path.string();
    BOOST_TEST(load({}, env, Command::migrate).database_password == "db s3cret");
    auto shown = describe_config(load({}, env));
    BOOST_TEST(shown.find("s3cret") == std::string::npos, shown);
}

// Issue 12: every setting is declared once, and check-config's listing, the config-file keys, the
// ESR_ names and --help all come from that one declaration. So what check-config prints is a
// config file that reads back to the same configuration, each line's key is also an ESR_ variable
// serve reads, and serve's --help names each of them with its variable.
BOOST_AUTO_TEST_CASE(check_config_output_is_a_config_file_that_reads_back_the_same) {
    Env env;
    env.vars["ESR_BASIC_USER"] = "es";
    env.vars["ESR_BASIC_PASSWORD"] = "pw";
    const std::string shown = describe_config(load({"--max-body-bytes", "5000", "--trusted-proxies", "10.0.0.1"}, env));
    TempFile file(shown);
    const std::string again = describe_config(load({"--config", file.path.string()}, env));
    BOOST_TEST(again == shown);

    const std::string help = load_config(Command::serve, {"--help"}, env.get()).help_text;
    std::istringstream lines(shown);
    std::string line;
    int settings = 0;
    while (std::getline(lines, line)) {
        if (line.empty() || line.front() == '#') continue;
        const std::string key = line.substr(0, line.find(" = "));
        const std::string value = line.substr(line.find(" = ") + 3);
        std::string variable = "ESR_";
        for (char ch : key) variable += ch == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        BOOST_TEST(help.find("--" + key + " ") != std::string::npos, key << " is not in serve --help");
        BOOST_TEST(help.find(variable) != std::string::npos, variable << " is not in serve --help");
        Env with = env;
        with.vars[variable] = value;
        BOOST_TEST(error_of({}, with) == "no error", variable << "=" << value);
        ++settings;
    }
    BOOST_TEST(settings >= 25);
}

// Issue 12: a command's own options are checked when read, with the same messages as settings,
// and the settings register needs (the API, the account) come from the one config file too.
BOOST_AUTO_TEST_CASE(command_options_are_checked_when_read) {
    Env env;
    BOOST_TEST(error_of({"--count", "0"}, env, Command::simulate).find("--count") == 0u);
    BOOST_TEST(error_of({"--concurrency", "many"}, env, Command::simulate).find("--concurrency") == 0u);
    BOOST_TEST(error_of({"--kind", "unclassified"}, env, Command::simulate).find("--kind") == 0u);
    BOOST_TEST(error_of({"--max-attempts", "0"}, env, Command::register_endpoint).find("--max-attempts") == 0u);
    BOOST_TEST(error_of({"--timeout", "0s"}, env, Command::register_endpoint).find("--timeout") == 0u);
    BOOST_TEST(error_of({"--kind", "unclassified"}, env, Command::reprocess) == "no error");

    TempFile file("api-base = https://api.example.com/api/v1\neventsshop-user = acct@example.com\n");
    BOOST_TEST(error_of({"--config", file.path.string()}, env, Command::register_endpoint) == "no error");
    BOOST_TEST(error_of({"--config", file.path.string()}, env, Command::serve) == "no error");
}

// The README's settings table is written for people; this keeps it from forgetting a setting the
// option table declares: every option any command's --help lists with an ESR_ name, and every
// secret's variable, is in the README.
BOOST_AUTO_TEST_CASE(the_readme_documents_every_setting) {
    std::ifstream in(std::string(ESR_SOURCE_DIR) + "/README.md");
    std::stringstream readme;
    readme << in.rdbuf();
    Env env;
    int checked = 0;
    for (auto command : {Command::serve, Command::migrate, Command::check_config, Command::reprocess,
                         Command::simulate, Command::register_endpoint}) {
        std::istringstream help(load_config(command, {"--help"}, env.get()).help_text);
        std::string word;
        while (help >> word) {
            if (word.rfind("ESR_", 0) != 0) continue;
            while (!word.empty() && (word.back() == ',' || word.back() == ')')) word.pop_back();
            BOOST_TEST(readme.str().find("`" + word + "`") != std::string::npos, word << " is not in README.md");
            ++checked;
        }
    }
    BOOST_TEST(checked > 30);
}

BOOST_AUTO_TEST_SUITE_END()
