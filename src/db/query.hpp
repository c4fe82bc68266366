#pragma once

// The statements of src/db/queries/*.sql, embedded at build time (cmake/embed_queries.cmake), and
// the two ways to run one by its constant, so a prepared statement's name is never written out:
//   prepare(connection, q::insert_delivery);               at connection set-up
//   exec_prepared(tx, q::insert_delivery, arguments...);  in a transaction
// Statements PostgreSQL cannot prepare (SET, CREATE, COMMENT), and those run on connections that
// prepare nothing, are run by their text: tx.exec(q::x.text), tx.exec_params(q::x.text, ...).

#include "queries.hpp"

#include <pqxx/connection_base>
#include <pqxx/transaction_base>

#include <utility>

namespace esr::db {

inline void prepare(pqxx::connection_base& connection, const q::Query& query) {
    connection.prepare(query.name, query.text);
}

template <class... Args>
pqxx::result exec_prepared(pqxx::transaction_base& tx, const q::Query& query, Args&&... args) {
    return tx.exec_prepared(query.name, std::forward<Args>(args)...);
}

template <class... Args>
pqxx::row exec_prepared1(pqxx::transaction_base& tx, const q::Query& query, Args&&... args) {
    return tx.exec_prepared1(query.name, std::forward<Args>(args)...);
}

}  // namespace esr::db
