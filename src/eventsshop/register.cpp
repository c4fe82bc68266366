#include "esr/eventsshop/register.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <charconv>
#include <random>
#include <thread>

namespace esr::eventsshop {
namespace {

namespace json = boost::json;

http::Url join(const http::Url& base, const std::string& path) {
    http::Url u = base;
    std::string prefix = u.path;
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    u.path = prefix + path;
    return u;
}

bool worth_retrying(unsigned status) { return status == 429 || (status >= 500 && status <= 599); }

std::string short_body(const std::string& body) {
    std::string s = body.substr(0, 300);
    std::replace(s.begin(), s.end(), '\n', ' ');
    return s.empty() ? "(no body)" : s;
}

/// The "token" string of a JSON answer ({"token": "..."}), or "" when there is none.
std::string token_in(const std::string& body) {
    boost::system::error_code ec;
    auto j = json::parse(body, ec);
    if (ec || !j.is_object()) return {};
    const auto* token = j.as_object().if_contains("token");
    return token && token->is_string() ? std::string(token->as_string()) : std::string();
}

/// One call, retried while the answer is 429 or 5xx. Throws ClientError when no answer comes.
http::ClientReply call(http::Client& client, const http::Url& url, const std::string& authorization,
                       const std::string& body, const RetryPolicy& retry, int& attempts) {
    std::mt19937 random(std::random_device{}());
    std::vector<std::pair<std::string, std::string>> headers{{"Content-Type", "application/json"},
                                                             {"Accept", "application/json"}};
    if (!authorization.empty()) headers.emplace_back("Authorization", authorization);
    auto delay = retry.base_delay;
    for (int attempt = 1;; ++attempt) {
        ++attempts;
        auto reply = client.request("POST", url, headers, body);
        if (!worth_retrying(reply.status) || attempt >= retry.max_attempts) return reply;
        // Full jitter over [delay/2, delay], so clients that failed together do not retry together;
        // the server's Retry-After (seconds) wins when it says more.
        auto wait = std::chrono::milliseconds(
            std::uniform_int_distribution<long long>(delay.count() / 2, delay.count())(random));
        std::string after = reply.header("retry-after");
        long long seconds = 0;
        if (auto [end, ec] = std::from_chars(after.data(), after.data() + after.size(), seconds);
            ec == std::errc{} && end == after.data() + after.size())
            wait = std::max(wait, std::chrono::milliseconds(std::min(seconds, 300LL) * 1000));
        if (retry.sleep) retry.sleep(wait);
        else std::this_thread::sleep_for(wait);
        delay = std::min(delay * 2, retry.max_delay);
    }
}

}  // namespace

std::string endpoint_body(const Registration& r) {
    json::object body{{"authType", r.basic ? "Basic Auth" : "OAuth 2.0"}, {"endpoint", r.endpoint}};
    if (r.basic) {
        body["userName"] = r.basic_user;
        body["password"] = r.basic_password;
    } else {
        body["token"] = r.token;
    }
    return json::serialize(body);
}

std::string describe(const Registration& r) {
    Registration redacted = r;
    redacted.basic_password = redacted.basic_password.empty() ? "" : "***";
    redacted.token = redacted.token.empty() ? "" : "***";
    return "POST " + join(r.api_base, "/authtoken").origin() + join(r.api_base, "/authtoken").path + "\n" +
           json::serialize(json::object{{"userName", r.account_user}, {"password", "***"}}) + "\n\n" + "POST " +
           join(r.api_base, "/endpoint/").origin() + join(r.api_base, "/endpoint/").path +
           "\nAuthorization: Bearer *** (the token the first call answers)\n" + endpoint_body(redacted) + "\n";
}

RegistrationResult register_endpoint(http::Client& client, const Registration& r, const RetryPolicy& retry) {
    RegistrationResult result;
    try {
        auto login = call(client, join(r.api_base, "/authtoken"), "",
                          json::serialize(json::object{{"userName", r.account_user}, {"password", r.account_password}}),
                          retry, result.attempts);
        if (login.status == 401) {
            result.message = "EventsShop refused the account's credentials (401 at /authtoken): check "
                             "ESR_EVENTSSHOP_USER and ESR_EVENTSSHOP_PASSWORD";
            return result;
        }
        if (login.status == 404) {
            result.message = "EventsShop knows no user '" + r.account_user +
                             "' (404 at /authtoken): check ESR_EVENTSSHOP_USER and --api-base";
            return result;
        }
        const std::string token = login.status == 200 ? token_in(login.body) : std::string();
        if (token.empty()) {
            result.message = "logging in to EventsShop failed (" + std::to_string(login.status) +
                             " at /authtoken" + (worth_retrying(login.status) ? ", after " + std::to_string(retry.max_attempts) + " attempts" : "") +
                             "): " + short_body(login.body);
            return result;
        }

        auto hook = call(client, join(r.api_base, "/endpoint/"), "Bearer " + token, endpoint_body(r), retry,
                         result.attempts);
        switch (hook.status) {
            case 200:
            case 201:
            case 202: {
                result.exit_status = 0;
                result.message = "registered " + r.endpoint + " with EventsShop (" + (r.basic ? "Basic Auth" : "OAuth 2.0") + ")";
                result.generated_token = token_in(hook.body);
                return result;
            }
            case 400:
                result.message = "EventsShop refused the registration as invalid (400 at /endpoint/): check --endpoint "
                                 "(the public URL it will call) and the credentials; it said: " + short_body(hook.body);
                return result;
            case 401:
                result.message = "EventsShop refused the access token it had just issued (401 at /endpoint/): "
                                 "check that --api-base names one API for both calls";
                return result;
            default:
                result.message = "registering failed (" + std::to_string(hook.status) + " at /endpoint/" +
                                 (worth_retrying(hook.status) ? ", after " + std::to_string(retry.max_attempts) + " attempts" : "") +
                                 "): " + short_body(hook.body);
                return result;
        }
    } catch (const http::ClientError& e) {
        result.message = e.what();
        return result;
    }
}

}  // namespace esr::eventsshop
