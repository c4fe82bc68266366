#pragma once

// Every answer the daemon gives other than a stored delivery and a probe's success, named once:
// its status, its error code, whether the connection closes after it, and the headers it must
// carry. The handler, the session and the listener build their answers here and nowhere else, so
// a client (and docs/bad-input.md) can rely on each; /metrics counts every status listed here.

#include "esr/http/response.hpp"

#include <boost/json/object.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace esr::http::answers {

struct Entry {
    unsigned status;
    std::string_view code;  // the "error" member of the JSON body
    bool close;             // the connection ends after it
};

inline constexpr Entry not_found{404, "not_found", false};
inline constexpr Entry method_not_allowed{405, "method_not_allowed", false};
inline constexpr Entry unauthorized{401, "unauthorized", true};
inline constexpr Entry metrics_unauthorized{401, "unauthorized", false};
inline constexpr Entry too_many_failures{429, "too_many_failures", true};
inline constexpr Entry body_too_large{413, "body_too_large", true};
inline constexpr Entry empty_body{400, "empty_body", false};
inline constexpr Entry invalid_json{400, "invalid_json", false};
inline constexpr Entry kind_mismatch{400, "kind_mismatch", false};
inline constexpr Entry unavailable{503, "unavailable", false};
inline constexpr Entry store_failed{500, "store_failed", false};
inline constexpr Entry not_ready{503, "not_ready", false};
inline constexpr Entry header_too_large{431, "header_too_large", true};
inline constexpr Entry bad_request{400, "bad_request", true};
inline constexpr Entry chunk_header_too_large{400, "chunk_header_too_large", true};
inline constexpr Entry body_too_slow{408, "body_too_slow", true};
inline constexpr Entry too_many_connections{503, "too_many_connections", true};

inline constexpr std::array catalogue{not_found,    method_not_allowed, unauthorized,     metrics_unauthorized,
                                      too_many_failures, body_too_large, empty_body,   invalid_json,
                                      kind_mismatch, unavailable,      store_failed,     not_ready,
                                      header_too_large, bad_request,   chunk_header_too_large, body_too_slow,
                                      too_many_connections};

/// A JSON answer with `status` and `body` (successes, and the bodies the builders below make).
Response json(unsigned status, const boost::json::object& body);

Response no_such_path(std::string_view path);
Response only_internal_endpoints_here();
Response wrong_method(std::string_view allow, std::string detail);
/// A delivery without valid credentials: both challenges, so the client can pick.
Response credentials_refused(bool authorization_sent);
Response metrics_token_refused();
Response failed_too_often(std::chrono::seconds wait);
Response declared_too_large(std::uint64_t declared, std::uint64_t limit);
Response grew_too_large(std::uint64_t limit);
Response no_body();
/// A body refused as the sender's fault: `code` is invalid_json or kind_mismatch.
Response refused_body(std::string_view code, std::string_view because);
/// Not stored, retry: `reason` is a class (database_unavailable, queue_full, spool_unavailable,
/// stopping), never server text.
Response retry_later(std::string_view reason);
Response database_refused();
Response not_ready_yet(boost::json::object body, std::string_view reason);
Response header_over_limit(std::size_t limit);
Response malformed(std::string_view what);
Response chunk_header_over_limit(std::size_t limit);
Response body_late(std::string detail);
Response connection_limit_reached();

}  // namespace esr::http::answers
