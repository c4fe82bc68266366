#pragma once

#include "esr/config.hpp"

#include <pqxx/connection>

#include <memory>
#include <string>

namespace esr::db {

/// A connection with the session settings every daemon connection uses.
std::unique_ptr<pqxx::connection> connect(const Config& config, const std::string& purpose);

/// The first line of a libpq/libpqxx message, for logs and error bodies.
std::string first_line(const std::string& message);

}  // namespace esr::db
