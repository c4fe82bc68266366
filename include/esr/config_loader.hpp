#pragma once

#include "esr/config.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace esr {

/// The subcommands that read the daemon's configuration.
enum class Command { serve, migrate, check_config, reprocess, simulate, register_endpoint };

using GetEnv = std::function<std::optional<std::string>(const std::string& name)>;
GetEnv process_environment();

struct LoadedConfig {
    Config config;
    bool help = false;         // --help was asked: print help_text, do nothing else
    std::string help_text;
    std::string config_file;   // the file read, if any
    // The subcommand's own options (reprocess: kind, since; simulate: url, auth, ...), as given.
    std::map<std::string, std::string> command_options;
};

/// Reads flags (`args`, without the program and subcommand names), then the environment, then the
/// config file; the first source that sets a value wins, so flags > environment > file > default.
/// Secrets come only from the environment, files named there or in the config file, or systemd's
/// $CREDENTIALS_DIRECTORY. Throws ConfigError naming the setting at fault.
LoadedConfig load_config(Command command, const std::vector<std::string>& args, const GetEnv& getenv);

/// The effective configuration in config-file syntax, secrets redacted.
std::string describe_config(const Config& config);

/// "10s", "250ms", "2m", or a bare number of seconds. Throws ConfigError naming `setting`.
std::chrono::milliseconds parse_duration(const std::string& text, const std::string& setting);

}  // namespace esr
