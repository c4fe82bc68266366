#include "esr/http/answers.hpp"

#include <boost/json/serialize.hpp>

namespace esr::http::answers {
namespace {

Response error(const Entry& entry, std::string_view detail) {
    Response r = json(entry.status, {{"error", entry.code}, {"detail", detail}});
    r.close = entry.close;
    return r;
}

}  // namespace

Response json(unsigned status, const boost::json::object& body) {
    Response r;
    r.status = status;
    r.body = boost::json::serialize(body);
    return r;
}

Response no_such_path(std::string_view path) { return error(not_found, "no such path: " + std::string(path)); }

Response only_internal_endpoints_here() {
    return error(not_found, "this address serves /metrics, /healthz and /readyz only");
}

Response wrong_method(std::string_view allow, std::string detail) {
    Response r = error(method_not_allowed, detail);
    r.headers.emplace_back("Allow", allow);
    return r;
}

Response credentials_refused(bool authorization_sent) {
    Response r = error(unauthorized, authorization_sent ? "the credentials in Authorization are not accepted"
                                                        : "no Authorization header");
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"eventsshop-receiver\", charset=\"UTF-8\"");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"eventsshop-receiver\"");
    return r;
}

Response metrics_token_refused() {
    Response r = error(metrics_unauthorized, "/metrics needs its bearer token");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"metrics\"");
    return r;
}

Response failed_too_often(std::chrono::seconds wait) {
    Response r = error(too_many_failures, "too many failed authentications from this address; retry in " +
                                              std::to_string(wait.count()) + " s");
    r.headers.emplace_back("Retry-After", std::to_string(wait.count()));
    return r;
}

Response declared_too_large(std::uint64_t declared, std::uint64_t limit) {
    return error(body_too_large,
                 "the body has " + std::to_string(declared) + " bytes; the limit is " + std::to_string(limit));
}

Response grew_too_large(std::uint64_t limit) {
    return error(body_too_large, "the body exceeds " + std::to_string(limit) + " bytes");
}

Response no_body() { return error(empty_body, "a delivery needs a JSON body"); }

Response refused_body(std::string_view code, std::string_view because) {
    return error(code == kind_mismatch.code ? kind_mismatch : invalid_json, because);
}

// Our words for each reason class, never the server's (the log has those).
Response retry_later(std::string_view reason) {
    std::string_view detail = "the database cannot take deliveries now; retry later";
    if (reason == "queue_full") detail = "the write queue is full; retry later";
    else if (reason == "spool_unavailable") detail = "the database cannot take deliveries now and the spool cannot either; retry later";
    else if (reason == "stopping") detail = "the receiver is stopping; retry later";
    Response r = json(unavailable.status, {{"error", unavailable.code}, {"reason", reason}, {"detail", detail}});
    r.headers.emplace_back("Retry-After", "5");
    return r;
}

Response database_refused() {
    return json(store_failed.status, {{"error", store_failed.code},
                                      {"reason", "database_refused"},
                                      {"detail", "the delivery was not stored; the receiver's log says why"}});
}

Response not_ready_yet(boost::json::object body, std::string_view reason) {
    body["error"] = not_ready.code;
    body["reason"] = reason;
    body["detail"] = "not ready to store deliveries; the daemon's log says why";
    Response r = json(not_ready.status, body);
    r.headers.emplace_back("Retry-After", "5");
    return r;
}

Response header_over_limit(std::size_t limit) {
    return error(header_too_large, "the request header exceeds " + std::to_string(limit) + " bytes");
}

Response malformed(std::string_view what) { return error(bad_request, "malformed HTTP request: " + std::string(what)); }

Response chunk_header_over_limit(std::size_t limit) {
    return error(chunk_header_too_large,
                 "a chunk header (with its extensions) exceeds " + std::to_string(limit) + " bytes");
}

Response body_late(std::string detail) { return error(body_too_slow, detail); }

Response connection_limit_reached() {
    Response r = error(too_many_connections, "the connection limit is reached");
    r.headers.emplace_back("Retry-After", "1");
    return r;
}

}  // namespace esr::http::answers
