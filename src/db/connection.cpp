#include "connection.hpp"

namespace esr::db {

std::unique_ptr<pqxx::connection> connect(const Config& config, const std::string& purpose) {
    auto c = std::make_unique<pqxx::connection>(config.database_url);
    c->set_variable("application_name", "'eventsshop-receiver " + purpose + "'");
    c->set_variable("statement_timeout", std::to_string(config.statement_timeout.count()));
    return c;
}

std::string first_line(const std::string& message) {
    auto end = message.find('\n');
    return message.substr(0, end);
}

}  // namespace esr::db
