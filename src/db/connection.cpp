#include "connection.hpp"

#include "query.hpp"

#include <libpq-fe.h>
#include <pqxx/nontransaction>
#include <pqxx/result>

#include <array>
#include <memory>
#include <stdexcept>
#include <utility>

namespace esr::db {
namespace {

constexpr std::array<std::pair<const char*, const char*>, 6> connection_defaults{{
    {"connect_timeout", "10"},
    {"keepalives", "1"},
    {"keepalives_idle", "30"},
    {"keepalives_interval", "10"},
    {"keepalives_count", "3"},
    {"tcp_user_timeout", "30000"},
}};

// key='value' with the quoting libpq documents: backslash before ' and \.
std::string quoted(const char* value) {
    std::string out = "'";
    for (const char* p = value; *p; ++p) {
        if (*p == '\'' || *p == '\\') out += '\\';
        out += *p;
    }
    return out + "'";
}

}  // namespace

namespace {

using Options = std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)>;

Options parsed(const std::string& url) {
    char* error = nullptr;
    Options options(PQconninfoParse(url.c_str(), &error), &PQconninfoFree);
    if (!options) {
        std::string message = error ? error : "out of memory";
        PQfreemem(error);
        while (!message.empty() && message.back() == '\n') message.pop_back();
        throw std::invalid_argument(message);
    }
    return options;
}

}  // namespace

std::string redacted_connection_string(const std::string& url) {
    Options options(nullptr, &PQconninfoFree);
    try {
        options = parsed(url);
    } catch (const std::invalid_argument&) {
        return "(cannot be parsed; not shown, it may hold a password)";
    }
    std::string out;
    for (auto* o = options.get(); o->keyword; ++o) {
        if (!o->val) continue;
        if (!out.empty()) out += ' ';
        out += o->keyword;
        out += '=';
        // libpq marks its secrets (password, sslpassword, ...) with the display character '*'.
        out += (o->dispchar && o->dispchar[0] == '*') ? std::string("***") : quoted(o->val);
    }
    return out;
}

std::string with_connection_defaults(const std::string& url) {
    auto options = parsed(url);
    std::string out;
    auto add = [&](const char* key, const char* value) {
        if (!out.empty()) out += ' ';
        out += key;
        out += '=';
        out += quoted(value);
    };
    for (auto* o = options.get(); o->keyword; ++o)
        if (o->val) add(o->keyword, o->val);
    for (const auto& [key, value] : connection_defaults) {
        bool set = false;
        for (auto* o = options.get(); o->keyword; ++o)
            if (o->val && std::string_view(o->keyword) == key) set = true;
        if (!set) add(key, value);
    }
    return out;
}

bool names_a_password(const std::string& url) {
    try {
        auto options = parsed(url);
        for (auto* o = options.get(); o->keyword; ++o)
            if (o->val && std::string_view(o->keyword) == "password" && *o->val) return true;
    } catch (const std::invalid_argument&) {
    }
    return false;
}

std::unique_ptr<pqxx::connection> connect(const std::string& url, const std::string& password,
                                          const std::string& purpose,
                                          std::optional<std::chrono::milliseconds> statement_timeout) {
    std::string conninfo = with_connection_defaults(url);
    if (!password.empty() && !names_a_password(url)) conninfo += " password=" + quoted(password.c_str());
    auto c = std::make_unique<pqxx::connection>(conninfo);
    // Every text this daemon sends is UTF-8 (the bodies' own encoding): another client_encoding,
    // from PGCLIENTENCODING, the URL or ALTER ROLE ... SET, would have PostgreSQL convert it from
    // that encoding, storing other characters than the vendor sent.
    c->set_client_encoding("UTF8");
    // A delivery's received_at comes back as text and goes in again as its rows' observed_at (both
    // lanes) and events' times: ISO writes the zone as a number. The Postgres style, named by
    // PGDATESTYLE, the URL or the role, writes an abbreviation, read back as another zone for some
    // ("IST": India's written, Israel's read).
    c->set_variable("DateStyle", "ISO");
    c->set_variable("application_name", "'eventsshop-receiver " + purpose + "'");
    if (statement_timeout) {
        c->set_variable("statement_timeout", std::to_string(statement_timeout->count()));
        // Also for lock waits: the statements that lift the statement timeout (a large body, the
        // latest-table update) must still not wait for ever behind another session's lock. Past
        // it, the delivery is unavailable: spooled, or 503, and stored later.
        c->set_variable("lock_timeout", std::to_string(statement_timeout->count()));
    }
    // remote_apply and on are kept; anything weaker is raised to on.
    std::string level;
    {
        pqxx::nontransaction tx(*c);
        level = tx.exec(q::show_synchronous_commit.text)[0][0].as<std::string>();
    }
    if (level != "on" && level != "remote_apply") c->set_variable("synchronous_commit", "on");
    return c;
}

std::unique_ptr<pqxx::connection> connect(const Config& config, const std::string& purpose) {
    return connect(config.database_url, config.database_password, purpose, config.statement_timeout);
}

std::string first_line(const std::string& message) {
    auto end = message.find('\n');
    return message.substr(0, end);
}

}  // namespace esr::db
