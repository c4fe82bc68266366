#pragma once

// COPY ... FROM STDIN in PostgreSQL's binary format, for the large lane's demand rows and for a
// delivery's own row with its body (copy_delivery, delivery_rows.hpp). In the text
// format PostgreSQL parses every field of every row back from text (a city matrix: 182,500 rows of
// a timestamptz, a date, a double and three bigints), and the daemon formats and escapes each one.
// Binary, PostgreSQL's COPY of a matrix's rows took 375 ms against 445 ms in text (COPY from a file
// of the same rows into a table with hotel_demand's columns and indexes, three runs each); the
// timestamptz alone was 57 ms of the difference. libpqxx 6.4 has only the text format (stream_to),
// so this drives libpq's COPY calls on the transaction's connection itself, holding the
// transaction's focus meanwhile as stream_to does: libpqxx refuses any other statement on it
// until complete().

#include <pqxx/dbtransaction>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct pg_conn;

namespace esr::db {

class BinaryCopy : pqxx::internal::transactionfocus {
public:
    /// Starts `COPY table (columns) FROM STDIN (FORMAT binary)` in `tx`.
    BinaryCopy(pqxx::dbtransaction& tx, const std::string& table, const std::vector<std::string>& columns);
    /// A COPY not completed (an exception on the way) is ended as failed, so that the transaction
    /// can roll back.
    ~BinaryCopy();
    BinaryCopy(const BinaryCopy&) = delete;
    BinaryCopy& operator=(const BinaryCopy&) = delete;

    /// A row: the number of its fields, then each field in the order of `columns`, each added as
    /// its column's type. Rows are gathered to 64 KiB before they are sent; a field that size or
    /// larger is sent from where it lies, in pieces of at most 1 MiB.
    void begin_row(std::int16_t fields);
    void add_bigint(std::int64_t v);
    void add_integer(std::int32_t v);
    void add_double(double v);
    void add_text(std::string_view v);
    void add_bytea(std::string_view v);
    void add_boolean(bool v);
    /// An IPv4 or IPv6 address in text (as esr::client_address writes it) as inet; NULL when it is
    /// empty or not an address.
    void add_inet(const std::string& address);
    /// `yyyy_mm_dd` as payload::coerce_date leaves a date; anything else is a bug (std::invalid_argument).
    void add_date(std::string_view yyyy_mm_dd);
    /// Microseconds since 2000-01-01 00:00 UTC, PostgreSQL's own form (see timestamptz_microseconds).
    void add_timestamptz(std::int64_t microseconds);
    void add_jsonb(std::string_view json_text);
    void add_null();

    /// Ends the COPY. Throws what PostgreSQL refused (pqxx::sql_error, with its SQLSTATE) or
    /// pqxx::broken_connection.
    void complete();

    /// `timestamptz` (text PostgreSQL gave this session) in the form add_timestamptz takes, asked of
    /// PostgreSQL itself, so no time zone or date style is read here.
    static std::int64_t timestamptz_microseconds(pqxx::transaction_base& tx, const std::string& timestamptz);
    /// Days since 2000-01-01 of a `YYYY-MM-DD` date (PostgreSQL's binary date).
    static std::int32_t date_days(std::string_view yyyy_mm_dd);

private:
    void field_length(std::int32_t n);
    void add_bytes(std::string_view v, const char* what);
    template <class Unsigned>
    void put(Unsigned v);
    void append(std::string_view bytes);
    void send();
    void put_copy_data(std::string_view bytes);
    [[noreturn]] void throw_connection_error(const std::string& doing);

    pg_conn* connection_;
    std::string query_;
    std::string buffer_;  // what is not handed to libpq yet
    bool open_ = true;
};

}  // namespace esr::db
