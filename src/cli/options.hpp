#pragma once

// Every option of every command, declared once. --help, the ESR_ variable names, the config-file
// keys, the validation and check-config's listing are all read from this table (options.cpp), so
// they cannot disagree.

#include "esr/config_loader.hpp"

#include <functional>
#include <string>
#include <vector>

namespace esr::options {

/// Where an option's value may come from.
enum class Source {
    setting,  // --name, ESR_NAME, or "name = value" in the config file: what the daemon is
    command,  // --name only: what one run of one command does, so a stray variable narrows nothing
    secret,   // never a flag (ps shows flags): ESR_NAME, ESR_NAME_FILE, "name-file = path" in the
              // config file, or the systemd credential 'name' in $CREDENTIALS_DIRECTORY
    toggle,   // --name without a value
};

constexpr unsigned bit(Command command) { return 1u << static_cast<unsigned>(command); }

/// Where a parsed value goes.
struct Target {
    Config& config;
    CommandOptions& command;
};

struct Option {
    std::string name;
    unsigned commands = 0;  // bit(Command) of each command that reads it
    Source source = Source::setting;
    std::string section;     // its group in --help
    std::string value_name;  // what --help shows after the flag: N, DURATION, ...
    std::string help;        // --help's text, which the table completes with range and default
    std::string default_text;
    std::string variable;  // the ESR_ name, for settings and secrets
    // Parses and checks `value`, naming `setting` on failure, and stores it.
    std::function<void(Target, const std::string& value, const std::string& setting)> set;
    // The value as check-config lists it (secrets: whether set); null for command options.
    std::function<std::string(const Config&)> show;

    bool used_by(Command command) const { return (commands & bit(command)) != 0; }
    /// How messages name it: "--name (ESR_NAME)", "ESR_NAME" for secrets, "--name" otherwise.
    std::string setting() const;
};

/// In --help order.
const std::vector<Option>& table();

/// The option `command` reads under `name`, or null.
const Option* find(const std::string& name, Command command);

/// "10s" or "250ms": a duration the way a config file writes it.
std::string format_duration(std::chrono::milliseconds d);

}  // namespace esr::options
