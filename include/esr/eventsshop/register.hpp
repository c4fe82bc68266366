#pragma once

#include "esr/http/client.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <ostream>
#include <string>

namespace esr::eventsshop {

/// What to tell EventsShop: its "Create Hook" call (POST /endpoint/), after logging in
/// (POST /authtoken) with the account's credentials.
struct Registration {
    http::Url api_base;  // e.g. https://api.example.com or https://api.example.com/api/v1
    std::string account_user;
    std::string account_password;
    std::string endpoint;  // the public URL EventsShop will call
    bool basic = true;     // "Basic Auth" with basic_user/basic_password, else "OAuth 2.0" with token
    std::string basic_user;
    std::string basic_password;
    std::string token;
};

struct RetryPolicy {
    int max_attempts = 5;  // per call, for 429 and 5xx answers
    std::chrono::milliseconds base_delay{500};
    std::chrono::milliseconds max_delay{30'000};
    std::function<void(std::chrono::milliseconds)> sleep;  // injectable for tests; real sleep if empty
};

struct RegistrationResult {
    int exit_status = 1;  // 0 registered; 1 refused, gave up or no answer
    std::string message;  // what happened and, on failure, what to check
    std::optional<std::string> generated_token;  // "If Basic Auth is used, the system will generate a new token"
    int attempts = 0;     // HTTP requests sent in all
};

/// Logs in and registers, retrying 429 and 5xx answers with exponential backoff and jitter (or
/// the server's Retry-After). Never throws for what the server or the network does.
RegistrationResult register_endpoint(http::Client& client, const Registration& registration, const RetryPolicy& retry);

/// The two requests, as they would be sent, with every secret redacted (for --dry-run).
std::string describe(const Registration& registration);

/// The JSON body of the Create Hook call.
std::string endpoint_body(const Registration& registration);

}  // namespace esr::eventsshop
