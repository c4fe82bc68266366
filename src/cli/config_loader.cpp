#include "esr/config_loader.hpp"

#include "db/connection.hpp"
#include "options.hpp"

#include "esr/log.hpp"

#include <boost/program_options.hpp>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <arpa/inet.h>

namespace po = boost::program_options;

namespace esr {
namespace {

using options::Option;
using options::Source;

std::string read_secret_file(const std::string& path, const std::string& setting) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError(setting, "cannot read '" + path + "'");
    std::ostringstream s;
    s << in.rdbuf();
    std::string text = s.str();
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
}

// A secret from, in order: its variable, the file a variable names, the file the config file
// names, systemd's credential of its name.
std::optional<std::string> find_secret(const Option& o, const GetEnv& getenv, const std::map<std::string, std::string>& file_keys) {
    if (auto v = getenv(o.variable)) return *v;
    if (auto path = getenv(o.variable + "_FILE")) return read_secret_file(*path, o.variable + "_FILE");
    if (auto path = file_keys.find(o.name + "-file"); path != file_keys.end() && !path->second.empty())
        return read_secret_file(path->second, o.name + "-file (config file)");
    if (auto dir = getenv("CREDENTIALS_DIRECTORY")) {
        std::string path = *dir + "/" + o.name;
        if (std::ifstream(path).good()) return read_secret_file(path, "$CREDENTIALS_DIRECTORY/" + o.name);
    }
    return std::nullopt;
}

std::string setting_of(const std::string& name, Command command) {
    const Option* o = options::find(name, command);
    return o ? o->setting() : name;
}

// Rules between settings; each single value was checked as it was read.
void check_together(Config& c, Command command, const std::set<std::string>& given) {
    const auto setting = [command](const char* name) { return setting_of(name, command); };
    if (command == Command::simulate || command == Command::register_endpoint) {
        if (!c.basic_user.empty() && c.basic_password.empty())
            throw ConfigError("ESR_BASIC_PASSWORD", "not set, but --basic-user is");
        return;
    }
    if (c.database_url.empty()) throw ConfigError(setting("database-url"), "not set");
    if (command != Command::serve && command != Command::check_config) return;

    if (c.large_body_bytes > c.max_body_bytes) {
        if (given.count("large-body-bytes"))
            throw ConfigError(setting("large-body-bytes"), "is above --max-body-bytes (" +
                                                               std::to_string(c.max_body_bytes) +
                                                               "): no body could ever take the large lane");
        c.large_body_bytes = c.max_body_bytes;  // a lowered --max-body-bytes alone: the default follows
    }
    if (!c.state_dir.empty() && c.spool_max_bytes < c.max_body_bytes)
        throw ConfigError(setting("spool-max-bytes"), "is below --max-body-bytes (" + std::to_string(c.max_body_bytes) +
                                                          "): the largest body could never be spooled");
    if (!c.basic_user.empty() && c.basic_password.empty())
        throw ConfigError("ESR_BASIC_PASSWORD", "not set, but --basic-user is");
    if (c.basic_user.empty() && !c.basic_password.empty())
        throw ConfigError(setting("basic-user"), "not set, but a Basic password is");
    if (!c.has_credentials())
        throw ConfigError("credentials", "none configured: set --basic-user with ESR_BASIC_PASSWORD, "
                                         "or ESR_BEARER_TOKENS");
}

std::string help_for(Command command) {
    std::ostringstream out;
    std::vector<std::string> sections;
    for (const auto& o : options::table())
        if (o.used_by(command) && o.source != Source::secret &&
            std::find(sections.begin(), sections.end(), o.section) == sections.end())
            sections.push_back(o.section);
    for (const auto& section : sections) {
        po::options_description group(section, 100, 50);
        for (const auto& o : options::table()) {
            if (!o.used_by(command) || o.section != section || o.source == Source::secret) continue;
            if (o.source == Source::toggle) group.add_options()(o.name.c_str(), o.help.c_str());
            else group.add_options()(o.name.c_str(), po::value<std::string>()->value_name(o.value_name), o.help.c_str());
        }
        out << group << "\n";
    }
    out << "Secrets (never flags: a variable, a file a variable or the config file names, or a systemd\n"
           "credential of the same name in $CREDENTIALS_DIRECTORY):\n";
    for (const auto& o : options::table())
        if (o.used_by(command) && o.source == Source::secret)
            out << "  " << o.name << ": " << o.help << "\n      " << o.variable << ", " << o.variable << "_FILE, "
                << o.name << "-file = PATH, credential '" << o.name << "'\n";
    out << "\nSettings (the options followed by an ESR_ name) can also be set by that variable or as\n"
           "'name = value' in the --config file. Flags win over the environment, which wins over\n"
           "the file. The other options are flags only.\n";
    return out.str();
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

LoadedConfig load_config(Command command, const std::vector<std::string>& args, const GetEnv& getenv) {
    po::options_description flags;
    for (const auto& o : options::table()) {
        if (!o.used_by(command) || o.source == Source::secret) continue;
        if (o.source == Source::toggle) flags.add_options()(o.name.c_str(), "");
        else flags.add_options()(o.name.c_str(), po::value<std::string>(), "");
    }
    po::variables_map from_flags;
    try {
        po::store(po::command_line_parser(args).options(flags).run(), from_flags);
    } catch (const po::error& e) {
        throw ConfigError("command line", e.what());
    }
    LoadedConfig loaded;
    if (from_flags.count("help")) {
        loaded.help = true;
        loaded.help_text = help_for(command);
        return loaded;
    }

    // Flags first, then the environment, then the config file: the first that sets a value wins.
    // An empty flag or file value sets the setting to nothing (`state-dir =`: no spool, whatever
    // $STATE_DIRECTORY says); an empty variable is unset, as an EnvironmentFile's `ESR_X=` means.
    std::map<std::string, std::string> values;
    for (const auto& [name, value] : from_flags) {
        const Option* o = options::find(name, command);
        values[name] = o->source == Source::toggle ? "yes" : value.as<std::string>();
    }
    for (const auto& o : options::table())
        if (o.used_by(command) && o.source == Source::setting && !values.count(o.name))
            if (auto v = getenv(o.variable); v && !v->empty()) values[o.name] = *v;

    // Any key of any command is allowed in the file (one file serves them all); each command
    // reads the keys it uses. A key no command knows is a mistake.
    std::map<std::string, std::string> file_keys;
    if (values.count("config")) {
        const std::string& file = values.at("config");
        std::ifstream in(file);
        if (!in) throw ConfigError(setting_of("config", command), "cannot read '" + file + "'");
        po::options_description any_key;
        std::set<std::string> known;
        for (const auto& o : options::table()) known.insert(o.source == Source::secret ? o.name + "-file" : o.name);
        for (const auto& key : known) any_key.add_options()(key.c_str(), po::value<std::string>());
        po::variables_map from_file;
        try {
            po::store(po::parse_config_file(in, any_key, false), from_file);
        } catch (const po::error& e) {
            throw ConfigError(setting_of("config", command), file + ": " + e.what());
        }
        for (const auto& [key, value] : from_file) {
            const std::string& name = key;  // clang 14 cannot capture a structured binding
            const Option& o = *std::find_if(options::table().begin(), options::table().end(), [&](const Option& x) {
                return x.name == name || x.name + "-file" == name;
            });
            if (command == Command::prune && key == "dry-run")
                // Ignored, the daily timer's run would drop for real what the operator meant to try.
                throw ConfigError("dry-run", file + ": a flag only (--dry-run); in the config file prune would ignore "
                                             "it and drop for real");
            if (o.source == Source::command || o.source == Source::toggle) {
                // Not an error: the file serves every command, and a daemon restarted by an upgrade
                // must not stay down over a line meant for `register`.
                log::warning("config file key ignored: it says what one run of a command does, so it is a flag only",
                             {{"file", file}, {"key", key}, {"give_it_as", "--" + key}});
                continue;
            }
            file_keys[key] = value.as<std::string>();
        }
        for (const auto& [key, value] : file_keys) {
            const Option* o = options::find(key, command);
            if (o && o->source == Source::setting && key != "config" && !values.count(key)) values[key] = value;
        }
        loaded.config_file = file;
    }

    Config& c = loaded.config;
    c.threads = std::max(1u, std::thread::hardware_concurrency());
    if (auto systemd = getenv("STATE_DIRECTORY"); systemd && !values.count("state-dir"))
        values["state-dir"] = systemd->substr(0, systemd->find(':'));
    options::Target target{c, loaded.command};
    std::set<std::string> given;
    for (const auto& o : options::table()) {
        if (!o.used_by(command)) continue;
        std::optional<std::string> value;
        if (o.source == Source::secret) value = find_secret(o, getenv, file_keys);
        else if (auto v = values.find(o.name); v != values.end()) value = v->second;
        if (!value || !o.set) continue;
        o.set(target, *value, o.setting());
        given.insert(o.name);
    }
    check_together(c, command, given);

    // A password in a URL given as a flag shows in ps and in the shell's history.
    if (from_flags.count("database-url") && db::names_a_password(c.database_url))
        log::warning("--database-url on the command line holds a password, which other users can read in ps; "
                     "give it by ESR_DATABASE_PASSWORD_FILE, database-password-file or the credential "
                     "'database-password' instead");
    return loaded;
}

std::string describe_config(const Config& c) {
    std::ostringstream o;
    for (const auto& option : options::table()) {
        if (!option.used_by(Command::serve) || !option.show) continue;
        if (option.source == Source::secret) o << "# " << option.name << ": " << option.show(c) << "\n";
        else o << option.name << " = " << option.show(c) << "\n";
    }
    return o.str();
}

}  // namespace esr
