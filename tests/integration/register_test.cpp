// `register` against a stand-in EventsShop API over real loopback sockets, plain and TLS.
#include "fake_eventsshop.hpp"
#include "world.hpp"

#include "esr/eventsshop/register.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

using namespace esr::test;
using namespace std::chrono_literals;

namespace {

std::map<std::string, std::string> register_env() {
    return {{"ESR_BASIC_USER", basic_user},
            {"ESR_BASIC_PASSWORD", basic_password},
            {"ESR_BEARER_TOKENS", token_new + "," + token_old},
            {"ESR_EVENTSSHOP_USER", "acct@example.com"},
            {"ESR_EVENTSSHOP_PASSWORD", "account-secret"}};
}

int register_with(const FakeEventsShop& api, std::vector<std::string> extra, std::string* out,
                  std::map<std::string, std::string> env = register_env()) {
    std::vector<std::string> argv{ESR_DAEMON_PATH, "register", "--api-base", api.base_url() + "/api/v1",
                                  "--endpoint", "https://receiver.example.com/hook"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv, env, out);
}

boost::json::value json(const std::string& text) { return boost::json::parse(text); }

}  // namespace

BOOST_AUTO_TEST_SUITE(register_command)

BOOST_AUTO_TEST_CASE(basic_auth_registration_sends_the_documented_calls) {
    FakeEventsShop api;
    std::string out;
    BOOST_TEST_REQUIRE(register_with(api, {"--auth", "basic"}, &out) == 0, out);
    BOOST_TEST(out.find("registered https://receiver.example.com/hook") != std::string::npos, out);
    auto login = api.requests_to("/api/v1/authtoken");
    BOOST_REQUIRE(login.size() == 1u);
    BOOST_TEST(login[0].method == "POST");
    BOOST_TEST((json(login[0].body) == json(R"({"userName": "acct@example.com", "password": "account-secret"})")));
    auto hook = api.requests_to("/api/v1/endpoint/");
    BOOST_REQUIRE(hook.size() == 1u);
    BOOST_TEST(hook[0].authorization == "Bearer jwt-from-fake");
    BOOST_TEST(hook[0].body == R"({"authType":"Basic Auth","endpoint":"https://receiver.example.com/hook",)"
                               R"("userName":"eventsshop","password":"p:ss wörd"})");
}

BOOST_AUTO_TEST_CASE(bearer_registration_sends_the_first_configured_token) {
    FakeEventsShop api;
    std::string out;
    BOOST_TEST_REQUIRE(register_with(api, {"--auth", "bearer"}, &out) == 0, out);
    auto hook = api.requests_to("/api/v1/endpoint/");
    BOOST_REQUIRE(hook.size() == 1u);
    BOOST_TEST(hook[0].body == R"({"authType":"OAuth 2.0","endpoint":"https://receiver.example.com/hook","token":")" +
                                   token_new + "\"}");
}

BOOST_AUTO_TEST_CASE(a_token_in_the_answer_is_printed_with_what_to_do) {
    FakeEventsShop api;
    api.script("/api/v1/endpoint/", {{202, R"({"token": "generated-by-eventsshop"})", {}}});
    std::string out;
    BOOST_TEST(register_with(api, {}, &out) == 0, out);
    BOOST_TEST(out.find("generated-by-eventsshop") != std::string::npos, out);
    BOOST_TEST(out.find("ESR_BEARER_TOKENS") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(dry_run_sends_nothing_and_shows_no_secret) {
    FakeEventsShop api;
    std::string out;
    BOOST_TEST(register_with(api, {"--dry-run"}, &out) == 0, out);
    BOOST_TEST(api.requests().empty());
    BOOST_TEST(out.find("/api/v1/endpoint/") != std::string::npos, out);
    BOOST_TEST(out.find("account-secret") == std::string::npos, out);
    BOOST_TEST(out.find(basic_password) == std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(refusals_say_what_to_check_and_exit_1) {
    {
        FakeEventsShop api;
        api.script("/api/v1/authtoken", {{401, R"({"message": "bad credentials"})", {}}});
        std::string out;
        BOOST_TEST(register_with(api, {}, &out) == 1, out);
        BOOST_TEST(out.find("ESR_EVENTSSHOP_PASSWORD") != std::string::npos, out);
        BOOST_TEST(api.requests_to("/api/v1/endpoint/").empty());
    }
    {
        FakeEventsShop api;
        api.script("/api/v1/endpoint/", {{400, R"({"message": "endpoint is invalid"})", {}}});
        std::string out;
        BOOST_TEST(register_with(api, {}, &out) == 1, out);
        BOOST_TEST(out.find("--endpoint") != std::string::npos, out);
        BOOST_TEST(out.find("endpoint is invalid") != std::string::npos, out);
    }
    {
        FakeEventsShop api;
        api.script("/api/v1/endpoint/", {{401, "{}", {}}});
        std::string out;
        BOOST_TEST(register_with(api, {}, &out) == 1, out);
        BOOST_TEST(out.find("401") != std::string::npos, out);
    }
}

BOOST_AUTO_TEST_CASE(too_many_requests_is_retried_after_retry_after) {
    FakeEventsShop api;
    api.script("/api/v1/endpoint/", {{429, "{}", {{"Retry-After", "1"}}}});
    std::string out;
    auto start = std::chrono::steady_clock::now();
    BOOST_TEST(register_with(api, {}, &out) == 0, out);
    BOOST_TEST(api.requests_to("/api/v1/endpoint/").size() == 2u);
    BOOST_TEST((std::chrono::steady_clock::now() - start >= 1s));
}

BOOST_AUTO_TEST_CASE(server_errors_are_retried_then_given_up) {
    FakeEventsShop api;
    api.script("/api/v1/endpoint/", {{500, "oops", {}}, {500, "oops", {}}, {500, "oops", {}}, {500, "oops", {}}});
    std::string out;
    BOOST_TEST(register_with(api, {"--max-attempts", "3"}, &out) == 1, out);
    BOOST_TEST(api.requests_to("/api/v1/endpoint/").size() == 3u);
    BOOST_TEST(out.find("after 3 attempts") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(backoff_grows_with_jitter_within_bounds) {
    FakeEventsShop api;
    api.script("/endpoint/", {{503, "", {}}, {503, "", {}}, {503, "", {}}, {503, "", {}}});
    std::vector<std::chrono::milliseconds> waits;
    esr::eventsshop::RetryPolicy retry{5, 100ms, 300ms, [&](std::chrono::milliseconds w) { waits.push_back(w); }};
    esr::eventsshop::Registration r;
    r.api_base = esr::http::parse_url(api.base_url());
    r.account_user = "u";
    r.account_password = "p";
    r.endpoint = "https://receiver.example.com/";
    r.basic_user = "es";
    r.basic_password = "pw";
    esr::http::Client client;
    auto result = esr::eventsshop::register_endpoint(client, r, retry);
    BOOST_TEST(result.exit_status == 0, result.message);
    BOOST_REQUIRE(waits.size() == 4u);
    const std::pair<long, long> bounds[] = {{50, 100}, {100, 200}, {150, 300}, {150, 300}};
    for (std::size_t i = 0; i < waits.size(); ++i) {
        BOOST_TEST(waits[i].count() >= bounds[i].first);
        BOOST_TEST(waits[i].count() <= bounds[i].second);
    }
}

BOOST_AUTO_TEST_CASE(a_stalled_api_is_given_up_after_the_timeout) {
    FakeEventsShop api;
    api.script("/api/v1/authtoken", {{200, R"({"token": "t"})", {}, 3s}});
    std::string out;
    auto start = std::chrono::steady_clock::now();
    BOOST_TEST(register_with(api, {"--timeout", "1s"}, &out) == 1, out);
    BOOST_TEST((std::chrono::steady_clock::now() - start < 3s));
    BOOST_TEST(out.find("no answer") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(too_many_requests_without_retry_after_backs_off_by_itself) {
    FakeEventsShop api;
    api.script("/api/v1/authtoken", {{429, "{}", {}}, {429, "{}", {}}});
    std::string out;
    BOOST_TEST(register_with(api, {}, &out) == 0, out);
    BOOST_TEST(api.requests_to("/api/v1/authtoken").size() == 3u);
}

BOOST_AUTO_TEST_CASE(no_answer_is_a_clear_message) {
    std::string out;
    auto env = register_env();
    int status = run({ESR_DAEMON_PATH, "register", "--api-base", "http://127.0.0.1:" + std::to_string(free_port()),
                      "--endpoint", "https://receiver.example.com/"}, env, &out);
    BOOST_TEST(status == 1, out);
    BOOST_TEST(out.find("cannot connect") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(https_with_a_private_ca_is_trusted_only_through_ca_file) {
    TempDir pki;
    const std::string d = pki.path.string();
    std::string out;
    BOOST_TEST_REQUIRE(make_test_certificates(pki.path, &out), out);
    FakeEventsShop api(TlsFiles{d + "/server.pem", d + "/server.key"});

    BOOST_TEST(register_with(api, {}, &out) == 1, out);
    BOOST_TEST(out.find("TLS handshake") != std::string::npos, out);
    BOOST_TEST(api.requests().empty());

    BOOST_TEST(register_with(api, {"--ca-file", d + "/ca.pem"}, &out) == 0, out);
    BOOST_TEST(api.requests_to("/api/v1/endpoint/").size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
