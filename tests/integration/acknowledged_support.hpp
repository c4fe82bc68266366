#pragma once

// What the acknowledged-data tests share: a site with SQL and spool helpers, large bodies, a frame
// as an older daemon wrote it, and a trigger that kills its own backend once.
#include "world.hpp"

#include <boost/crc.hpp>
#include <boost/json/parse.hpp>

#include <pqxx/nontransaction>
#include <pqxx/result>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <thread>

namespace esr::test::acknowledged_support {

using namespace std::chrono_literals;


/// A site of the test's own, with SQL and spool helpers.
struct AckSite : Site {
    AckSite(std::vector<std::string> flags, bool spool) : Site(std::move(flags), spool) {}

    pqxx::result sql(const std::string& statement) {
        pqxx::connection c(pg.url());
        pqxx::nontransaction tx(c);
        return tx.exec(statement);
    }
    /// A poison row: a trigger raising `message` on inserting into eventsshop.`table` a row whose
    /// `column` is `value`. Named `name` (function and trigger), for the test to drop.
    void raise_on_insert(const std::string& name, const std::string& table, const std::string& column,
                         const std::string& value, const std::string& message) {
        sql("CREATE FUNCTION public." + name + "() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "BEGIN\n"
            "    IF NEW." + column + " = '" + value + "' THEN RAISE EXCEPTION '" + message + "'; END IF;\n"
            "    RETURN NEW;\n"
            "END $$;\n"
            "CREATE TRIGGER " + name + " BEFORE INSERT ON eventsshop." + table + " FOR EACH ROW EXECUTE FUNCTION public." +
            name + "();");
    }
    std::filesystem::path state() const { return dir.path / "state"; }
    std::optional<std::uint64_t> spooled() {
        try {
            auto j = boost::json::parse(get("/readyz").body);
            return j.at("spool").at("records").to_number<std::uint64_t>();
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    bool wait_drained(std::chrono::seconds limit) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            try {
                if (get("/readyz").status == 200 && spooled() == std::optional<std::uint64_t>(0)) return true;
            } catch (const std::exception&) {
            }
            std::this_thread::sleep_for(100ms);
        }
        return false;
    }
    long long stored(const std::string& body) {
        return sql("SELECT count(*) FROM eventsshop.deliveries WHERE body_sha256 = decode('" + sha256_hex(body) +
                   "', 'hex')")[0][0]
            .as<long long>();
    }
    long long rejected(const std::string& body) {
        return sql("SELECT count(*) FROM eventsshop.rejected_deliveries WHERE body_sha256 = decode('" +
                   sha256_hex(body) + "', 'hex')")[0][0]
            .as<long long>();
    }
    /// byte_size, length(body), sha-256 of the stored body, record_count; empty when not stored.
    pqxx::result stored_row(const std::string& body) {
        return sql("SELECT byte_size, length(body), encode(sha256(body), 'hex'), record_count "
                   "FROM eventsshop.deliveries WHERE body_sha256 = decode('" +
                   sha256_hex(body) + "', 'hex')");
    }
    HttpResponse post_to(int to_port, const std::string& path, const std::string& body) {
        return HttpClient(to_port).request("POST", path, body, {{"Authorization", bearer_new}});
    }
};

inline std::optional<boost::json::value> json_or_nothing(const HttpResponse& r) {
    try {
        return boost::json::parse(r.body);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

inline std::string error_code(const HttpResponse& r) {
    auto j = json_or_nothing(r);
    if (!j || !j->is_object() || !j->as_object().contains("error")) return "";
    return std::string(j->at("error").as_string());
}

inline bool is_spooled(const HttpResponse& r) {
    auto j = json_or_nothing(r);
    return j && j->is_object() && j->as_object().contains("spooled") && j->at("spooled").as_bool();
}

inline std::string describe(const HttpResponse& r) { return std::to_string(r.status) + " " + r.body.substr(0, 300); }

/// An eventsinfo array of `n` events from `first_id`, about 170 bytes each.
inline std::string events_array(long first_id, int n, const std::string& name) {
    std::string out = "[";
    for (int i = 0; i < n; ++i) {
        if (i) out += ",\n";
        out += R"({"eventId": )" + std::to_string(first_id + i) + R"(, "eventName": ")" + name + " " +
               std::to_string(i) +
               R"(", "city": "Oslo", "country": "Norway", "description": "a large delivery's event, padded out to)"
               R"( make the body long", "eventStatusCode": 1})";
    }
    return out + "]";
}

/// A city-wide hoteldemand body (hotels x days), as bench/make_demand_matrix.cpp writes one; `poison`
/// adds one row for a hotel of that code.
inline std::string demand_matrix(int hotels, int days, int demand_id, const std::string& poison = "") {
    using namespace std::chrono;
    std::mt19937 random(static_cast<unsigned>(demand_id));
    const sys_days start = year_month_day{year{2026}, month{3}, day{1}};
    std::string out = R"({"demandId": )" + std::to_string(demand_id) +
                      R"(, "hotelCode": 0, "city": "Barcelona", "country": "Spain", "startDate": "2026-03-01", "horizon": )" +
                      std::to_string(days) + R"(, "demand": [)" + "\n";
    out.reserve(static_cast<std::size_t>(hotels) * static_cast<std::size_t>(days) * 130 + 256);
    char date[16];
    // `code` as JSON (a number, or a quoted string); `name` as text.
    auto row = [&](const std::string& code, const std::string& name, int d) {
        year_month_day ymd{start + sys_days::duration(d)};
        std::snprintf(date, sizeof date, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
        out += R"({"hotelCode":)" + code + R"(,"hotelName":"Hotel )" + name + R"(","date":")" + date +
               R"(","absoluteDemand":)" + std::to_string(200 + random() % 1800) + R"(,"relativeDemand":)" +
               std::to_string(random() % 101) + R"(,"eventsRegistered":)" + std::to_string(random() % 12) + "}";
    };
    bool first = true;
    for (int h = 0; h < hotels; ++h)
        for (int d = 0; d < days; ++d) {
            if (!first) out += ",\n";
            first = false;
            row(std::to_string(10000 + h), std::to_string(10000 + h), d);
        }
    if (!poison.empty()) {
        out += ",\n";
        row("\"" + poison + "\"", poison, 0);
    }
    return out + "\n]}\n";
}

/// A spool record as an older daemon framed it (frame v1, still read; src/spool/frame.cpp): magic "ESR1", u64 payload length, CRC-32 of the
/// payload (host byte order), then the payload: declared kind (0xff: none), principal, remote
/// address, path and body, each string as a u64 length and its bytes.
inline std::string spool_record(const std::string& path, const std::string& body,
                         const std::string& remote_addr = "127.0.0.1") {
    std::string payload;
    auto put = [](std::string& out, auto v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); };
    auto put_bytes = [&](const std::string& s) {
        put(payload, static_cast<std::uint64_t>(s.size()));
        payload += s;
    };
    put(payload, static_cast<std::uint8_t>(0xff));
    put_bytes("bearer:2");
    put_bytes(remote_addr);
    put_bytes(path);
    put_bytes(body);
    boost::crc_32_type crc;
    crc.process_bytes(payload.data(), payload.size());
    std::string frame;
    put(frame, static_cast<std::uint32_t>(0x31525345));
    put(frame, static_cast<std::uint64_t>(payload.size()));
    put(frame, static_cast<std::uint32_t>(crc.checksum()));
    return frame + payload;
}

/// Kills the backend that runs it, the first time only (a sequence survives the rollback).
inline const char* kill_once_function = R"(
CREATE SEQUENCE IF NOT EXISTS public.kill_once;
CREATE OR REPLACE FUNCTION public.esr_kill_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('public.kill_once') = 1 THEN
        PERFORM pg_terminate_backend(pg_backend_pid());
    END IF;
    RETURN NEW;
END $$;
)";


}  // namespace esr::test::acknowledged_support
