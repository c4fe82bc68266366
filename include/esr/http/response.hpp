#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace esr::http {

/// An answer as the session writes it. Built by the handler, or by esr/http/answers.hpp.
struct Response {
    unsigned status = 200;
    std::string body;  // JSON
    std::vector<std::pair<std::string, std::string>> headers;
    bool close = false;  // end the connection after this answer
    std::string content_type = "application/json";
    // For the request log only.
    std::int64_t delivery_id = 0;
    std::string kind;
};

}  // namespace esr::http
