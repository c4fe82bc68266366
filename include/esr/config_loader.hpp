#pragma once

#include "esr/config.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace esr {

/// The subcommands that read the daemon's configuration.
enum class Command { serve, migrate, check_config, reprocess, simulate, register_endpoint, prune };

using GetEnv = std::function<std::optional<std::string>(const std::string& name)>;
GetEnv process_environment();

/// What one run of one command does: read from its flags only, never from the environment or the
/// config file, so a stray ESR_SINCE narrows nothing. Defaults are the ones --help shows.
struct CommandOptions {
    std::string kind;   // reprocess: only this kind ("": all); simulate: generate this kind
    std::string since;  // reprocess
    std::string url = "http://127.0.0.1:8080/";  // simulate
    std::string auth;   // simulate, register: basic or bearer ("": by the credentials configured)
    std::string file;   // simulate
    std::uint64_t count = 1;
    unsigned concurrency = 4;
    unsigned hotels = 20;
    unsigned days = 30;
    std::uint64_t seed = 1;
    std::string endpoint;  // register
    std::string ca_file;
    unsigned max_attempts = 5;
    std::chrono::milliseconds timeout{30'000};
    bool dry_run = false;
};

struct LoadedConfig {
    Config config;
    CommandOptions command;
    bool help = false;         // --help was asked: print help_text, do nothing else
    std::string help_text;
    std::string config_file;   // the file read, if any
};

/// Reads flags (`args`, without the program and subcommand names), then the environment, then the
/// config file; the first source that sets a value wins, so flags > environment > file > default.
/// Secrets come only from the environment, files named there or in the config file, or systemd's
/// $CREDENTIALS_DIRECTORY. Throws ConfigError naming the setting at fault.
LoadedConfig load_config(Command command, const std::vector<std::string>& args, const GetEnv& getenv);

/// The effective configuration of `serve` in config-file syntax, secrets redacted: a config file
/// that reads back to the same configuration.
std::string describe_config(const Config& config);

/// "10s", "250ms", "2m", or a bare number of seconds. Throws ConfigError naming `setting`.
std::chrono::milliseconds parse_duration(const std::string& text, const std::string& setting);

}  // namespace esr
