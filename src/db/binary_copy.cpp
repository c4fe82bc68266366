#include "esr/db/binary_copy.hpp"

#include "query.hpp"

#include <boost/endian/conversion.hpp>

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <pqxx/except>
#include <pqxx/largeobject>
#include <pqxx/transaction_base>

#include <algorithm>
#include <bit>
#include <chrono>
#include <limits>
#include <stdexcept>

namespace esr::db {
namespace {

// libpqxx 6.4 hands its libpq connection out to one kind of class only, large objects (for the lo_*
// calls), through a protected static: this reaches it the same way.
struct RawConnection : pqxx::largeobject {
    static PGconn* of(const pqxx::dbtransaction& tx) { return raw_connection(tx); }
};

constexpr std::string_view signature{"PGCOPY\n\377\r\n\0", 11};
constexpr std::size_t send_from = 64 * 1024;  // bytes gathered before they are sent
// PQputCopyData takes a size as an int, and one that is not positive as nothing to send (and says
// it sent it): no piece comes near that. The format lets a field span pieces.
constexpr std::size_t largest_piece = 1024 * 1024;
constexpr std::uint8_t jsonb_version = 1;

// The results left on the connection, and PostgreSQL's first error among them. Stops at a result
// that says a COPY is still in progress: libpq hands that one out again on every call.
struct Outcome {
    std::string error, sqlstate;
    bool still_copying = false;
};
Outcome read_results(PGconn* connection) {
    Outcome out;
    while (PGresult* r = PQgetResult(connection)) {
        const auto status = PQresultStatus(r);
        if ((status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE) && out.error.empty()) {
            out.error = PQresultErrorMessage(r);
            if (const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE)) out.sqlstate = state;
        }
        PQclear(r);
        if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) {
            out.still_copying = true;
            break;
        }
    }
    return out;
}

std::string copy_statement(const std::string& table, const std::vector<std::string>& columns) {
    std::string q = "COPY " + table + " (";
    for (std::size_t i = 0; i < columns.size(); ++i) q += (i ? "," : "") + columns[i];
    return q + ") FROM STDIN (FORMAT binary)";
}

}  // namespace

BinaryCopy::BinaryCopy(pqxx::dbtransaction& tx, const std::string& table, const std::vector<std::string>& columns)
    : namedclass{"BinaryCopy", table},
      transactionfocus{tx},
      connection_{RawConnection::of(tx)},
      query_{copy_statement(table, columns)} {
    buffer_.reserve(send_from + 4096);
    buffer_.append(signature);
    put<std::uint32_t>(0);  // flags
    put<std::uint32_t>(0);  // header extension length
    tx.exec(query_);  // answered with PGRES_COPY_IN, which libpqxx takes as success
    register_me();
}

BinaryCopy::~BinaryCopy() {
    if (!open_) return;
    // Fail the COPY and read its error, leaving the connection ready for the rollback.
    if (PQputCopyEnd(connection_, "the daemon abandoned this COPY") == 1) read_results(connection_);
    unregister_me();
}

template <class Unsigned>
void BinaryCopy::put(Unsigned v) {
    v = boost::endian::native_to_big(v);
    buffer_.append(reinterpret_cast<const char*>(&v), sizeof v);
}

void BinaryCopy::field_length(std::int32_t n) { put(static_cast<std::uint32_t>(n)); }

void BinaryCopy::begin_row(std::int16_t fields) {
    if (buffer_.size() >= send_from) send();
    put(static_cast<std::uint16_t>(fields));
}

void BinaryCopy::add_bigint(std::int64_t v) {
    field_length(8);
    put(static_cast<std::uint64_t>(v));
}

void BinaryCopy::add_integer(std::int32_t v) {
    field_length(4);
    put(static_cast<std::uint32_t>(v));
}

void BinaryCopy::add_double(double v) {
    field_length(8);
    put(std::bit_cast<std::uint64_t>(v));
}

void BinaryCopy::add_bytes(std::string_view v, const char* what) {
    if (v.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
        throw std::length_error(std::string("a ") + what + " field over 2 GiB");
    field_length(static_cast<std::int32_t>(v.size()));
    append(v);
}

void BinaryCopy::add_text(std::string_view v) { add_bytes(v, "text"); }

void BinaryCopy::add_bytea(std::string_view v) { add_bytes(v, "bytea"); }

void BinaryCopy::add_boolean(bool v) {
    field_length(1);
    buffer_ += static_cast<char>(v ? 1 : 0);
}

void BinaryCopy::add_inet(const std::string& address) {
    // inet_send's form: family (PostgreSQL's own numbers), prefix bits, is-cidr, length, address.
    constexpr std::uint8_t pgsql_af_inet = 2, pgsql_af_inet6 = 3;
    unsigned char bytes[16];
    std::uint8_t family = 0, length = 0;
    if (inet_pton(AF_INET, address.c_str(), bytes) == 1) family = pgsql_af_inet, length = 4;
    else if (inet_pton(AF_INET6, address.c_str(), bytes) == 1) family = pgsql_af_inet6, length = 16;
    else return add_null();
    field_length(4 + length);
    buffer_ += static_cast<char>(family);
    buffer_ += static_cast<char>(length * 8);
    buffer_ += static_cast<char>(0);
    buffer_ += static_cast<char>(length);
    buffer_.append(reinterpret_cast<const char*>(bytes), length);
}

void BinaryCopy::add_date(std::string_view yyyy_mm_dd) {
    field_length(4);
    put(static_cast<std::uint32_t>(date_days(yyyy_mm_dd)));
}

void BinaryCopy::add_timestamptz(std::int64_t microseconds) { add_bigint(microseconds); }

void BinaryCopy::add_jsonb(std::string_view json_text) {
    if (json_text.size() >= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
        throw std::length_error("a jsonb field over 2 GiB");
    field_length(static_cast<std::int32_t>(json_text.size() + 1));
    buffer_ += static_cast<char>(jsonb_version);
    append(json_text);
}

void BinaryCopy::add_null() { field_length(-1); }

void BinaryCopy::append(std::string_view bytes) {
    if (bytes.size() < send_from) {
        buffer_.append(bytes);
        return;
    }
    send();  // what came before it; then a large field goes from where it lies, not copied
    put_copy_data(bytes);
}

void BinaryCopy::send() {
    put_copy_data(buffer_);
    buffer_.clear();
}

void BinaryCopy::put_copy_data(std::string_view bytes) {
    for (std::size_t sent = 0; sent < bytes.size();) {
        const std::size_t piece = std::min(bytes.size() - sent, largest_piece);
        if (PQputCopyData(connection_, bytes.data() + sent, static_cast<int>(piece)) != 1)
            throw_connection_error("sending COPY data");
        sent += piece;
    }
}

void BinaryCopy::complete() {
    put(static_cast<std::uint16_t>(0xFFFF));  // the trailer: a field count of -1
    send();
    open_ = false;
    unregister_me();
    if (PQputCopyEnd(connection_, nullptr) != 1) throw_connection_error("ending the COPY");
    const Outcome outcome = read_results(connection_);  // the COPY's own result, then the end of results
    if (PQstatus(connection_) != CONNECTION_OK) throw pqxx::broken_connection(PQerrorMessage(connection_));
    if (!outcome.error.empty())
        throw pqxx::sql_error(outcome.error, query_, outcome.sqlstate.empty() ? nullptr : outcome.sqlstate.c_str());
    if (outcome.still_copying) throw pqxx::failure("the COPY did not end: " + query_);  // not seen; never a success
}

void BinaryCopy::throw_connection_error(const std::string& doing) {
    const std::string message = doing + ": " + PQerrorMessage(connection_);
    if (PQstatus(connection_) != CONNECTION_OK) throw pqxx::broken_connection(message);
    throw pqxx::failure(message);
}

std::int64_t BinaryCopy::timestamptz_microseconds(pqxx::transaction_base& tx, const std::string& timestamptz) {
    return tx.exec_params1(q::timestamptz_microseconds.text, timestamptz)[0].as<std::int64_t>();
}

std::int32_t BinaryCopy::date_days(std::string_view d) {
    auto digits = [&](std::size_t from, std::size_t n) {
        int v = 0;
        for (std::size_t i = from; i < from + n; ++i) {
            if (d[i] < '0' || d[i] > '9') throw std::invalid_argument("not a YYYY-MM-DD date: " + std::string(d));
            v = v * 10 + (d[i] - '0');
        }
        return v;
    };
    if (d.size() != 10 || d[4] != '-' || d[7] != '-')
        throw std::invalid_argument("not a YYYY-MM-DD date: " + std::string(d));
    using namespace std::chrono;
    const year_month_day date{year{digits(0, 4)}, month{static_cast<unsigned>(digits(5, 2))},
                              day{static_cast<unsigned>(digits(8, 2))}};
    if (!date.ok()) throw std::invalid_argument("not a calendar date: " + std::string(d));
    return static_cast<std::int32_t>((sys_days{date} - sys_days{year{2000} / January / 1}).count());  // years 1-9999
}

}  // namespace esr::db
