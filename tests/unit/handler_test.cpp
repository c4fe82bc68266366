#include "esr/http/handler.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

using namespace esr;
using namespace esr::http;

namespace {

struct FakeSink : DeliverySink {
    std::vector<Delivery> received;
    StoreOutcome answer = StoreOutcome::stored(41, Kind::unclassified, 0);
    std::optional<SpoolDepth> spool;
    std::optional<SpoolDepth> spool_depth() const override { return spool; }
    void submit(Delivery d, Callback done) override {
        received.push_back(d);
        StoreOutcome out = answer;
        if (out.kind == Kind::unclassified) out.kind = d.kind;
        if (out.status == StoreOutcome::Status::stored && out.record_count == 0)
            out.record_count = static_cast<std::int64_t>(d.records.record_count());
        done(out);
    }
};

struct FakeReadiness : ReadinessProbe {
    std::string reason;
    std::string not_ready_reason() const override { return reason; }
};

struct Fixture {
    Config config;
    FakeSink sink;
    FakeReadiness readiness;
    Authenticator auth{"es", "pw", {"tok"}};
    Metrics metrics;
    Handler handler{config, auth, sink, readiness, metrics};

    RequestHead post(std::string target, std::string authorization = "Bearer tok") {
        return {"POST", std::move(target), std::move(authorization), 10, "192.0.2.1"};
    }
    Response header_answer(const RequestHead& head) {
        auto d = handler.on_header(head, route_of(head.target, config.base_path));
        BOOST_REQUIRE(std::holds_alternative<Response>(d));
        return std::get<Response>(d);
    }
    Intake intake(const RequestHead& head) {
        auto d = handler.on_header(head, route_of(head.target, config.base_path));
        BOOST_REQUIRE(std::holds_alternative<Intake>(d));
        return std::get<Intake>(d);
    }
    Response body_answer(const Intake& in, std::string body) {
        std::optional<Response> got;
        handler.on_body(in, std::move(body), [&](Response r) { got = std::move(r); });
        BOOST_REQUIRE(got);
        return *got;
    }
};

std::string header(const Response& r, const std::string& name) {
    std::string all;
    for (auto& [n, v] : r.headers)
        if (n == name) all += (all.empty() ? "" : " | ") + v;
    return all;
}

boost::json::value json(const Response& r) { return boost::json::parse(r.body); }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(handler, Fixture)

// Issue 13: anyone could lock EventsShop out by failing from the same address (behind a proxy,
// every client has the proxy's). Valid credentials are never refused by the throttle.
BOOST_AUTO_TEST_CASE(valid_credentials_are_never_throttled) {
    for (int i = 0; i < 50; ++i) BOOST_TEST(header_answer(post("/", "Bearer wrong")).status != 200u);
    BOOST_TEST(header_answer(post("/", "Bearer wrong")).status == 429u);
    // No Authorization at all asks for the challenge: always 401 with it, never counted.
    auto challenge = header_answer(post("/", ""));
    BOOST_TEST(challenge.status == 401u);
    BOOST_TEST(header(challenge, "WWW-Authenticate").find("Basic") != std::string::npos);
    intake(post("/", "Bearer tok"));
    intake(post("/", "Basic ZXM6cHc="));
}

// Issue 14: the route is found once, by the session, from the target: a pure function.
BOOST_AUTO_TEST_CASE(the_route_is_a_function_of_the_target_and_the_base_path) {
    BOOST_TEST((route_of("/", "") == Route::delivery));
    BOOST_TEST((route_of("/?kind=x", "") == Route::delivery));
    BOOST_TEST((route_of("/hoteldemand", "") == Route::hoteldemand));
    BOOST_TEST((route_of("/eventsimpact/", "") == Route::eventimpact));
    BOOST_TEST((route_of("/eventsinfo?x=1", "") == Route::eventsinfo));
    BOOST_TEST((route_of("/unclassified", "") == Route::other));
    BOOST_TEST((route_of("/metrics?x=1", "") == Route::metrics));
    BOOST_TEST((route_of("/healthz", "/eventsshop") == Route::healthz));
    BOOST_TEST((route_of("/eventsshop/readyz", "/eventsshop") == Route::readyz));
    BOOST_TEST((route_of("/eventsshop", "/eventsshop") == Route::delivery));
    BOOST_TEST((route_of("/eventsshop/eventsinfo/", "/eventsshop") == Route::eventsinfo));
    BOOST_TEST((route_of("/", "/eventsshop") == Route::other));
    BOOST_TEST((route_of("/eventsshopx", "/eventsshop") == Route::other));
    BOOST_TEST((kind_of(Route::hoteldemand) == Kind::hoteldemand));
    BOOST_TEST(!kind_of(Route::delivery));
    BOOST_TEST(!kind_of(Route::metrics));
    BOOST_TEST(to_string(Route::eventimpact) == "eventimpact");
}

BOOST_AUTO_TEST_CASE(unknown_path_is_404_with_json) {
    auto r = header_answer(post("/nope"));
    BOOST_TEST(r.status == 404u);
    BOOST_TEST(json(r).at("error").as_string() == "not_found");
}

BOOST_AUTO_TEST_CASE(wrong_method_is_405_with_allow) {
    auto r = header_answer({"GET", "/", "", {}, ""});
    BOOST_TEST(r.status == 405u);
    BOOST_TEST(header(r, "Allow") == "POST");
    auto h = header_answer({"POST", "/healthz", "", {}, ""});
    BOOST_TEST(h.status == 405u);
    BOOST_TEST(header(h, "Allow") == "GET");
}

BOOST_AUTO_TEST_CASE(missing_or_wrong_credentials_are_401_offering_both_schemes_and_closing) {
    for (std::string credentials : {"", "Bearer nope", "Basic ZXM6d3Jvbmc="}) {
        auto r = header_answer(post("/", credentials));
        BOOST_TEST(r.status == 401u);
        BOOST_TEST(r.close);
        BOOST_TEST(header(r, "WWW-Authenticate").find("Basic") != std::string::npos);
        BOOST_TEST(header(r, "WWW-Authenticate").find("Bearer") != std::string::npos);
        BOOST_TEST(json(r).at("error").as_string() == "unauthorized");
    }
    BOOST_TEST(sink.received.empty());
}

BOOST_AUTO_TEST_CASE(declared_oversized_body_is_413_before_reading) {
    config.max_body_bytes = 5;
    auto r = header_answer(post("/"));
    BOOST_TEST(r.status == 413u);
    BOOST_TEST(r.close);
}

BOOST_AUTO_TEST_CASE(paths_name_the_kind_and_base_path_is_honoured) {
    BOOST_TEST(!intake(post("/")).path_kind);
    BOOST_TEST(intake(post("/?x=1")).principal == "bearer:1");
    BOOST_TEST((*intake(post("/hoteldemand")).path_kind == Kind::hoteldemand));
    BOOST_TEST((*intake(post("/eventimpact/")).path_kind == Kind::eventimpact));
    // EventsShop's schedule API spells it "eventsimpact" (issue 12).
    BOOST_TEST((*intake(post("/eventsimpact")).path_kind == Kind::eventimpact));
    BOOST_TEST(header_answer(post("/unclassified")).status == 404u);
    config.base_path = "/eventsshop";
    BOOST_TEST(header_answer(post("/")).status == 404u);
    BOOST_TEST(header_answer(post("/eventsshopx")).status == 404u);
    BOOST_TEST(header_answer(post("/eventsshopeventsinfo")).status == 404u);
    BOOST_TEST(!intake(post("/eventsshop")).path_kind);
    BOOST_TEST((*intake(post("/eventsshop/eventsinfo")).path_kind == Kind::eventsinfo));
    BOOST_TEST(header_answer({"GET", "/eventsshop/healthz", "", {}, ""}).status == 200u);
}

BOOST_AUTO_TEST_CASE(readiness_follows_the_probe) {
    BOOST_TEST(header_answer({"GET", "/readyz", "", {}, ""}).status == 200u);
    // Issue 13: the public answer carries a reason class, never the server's error text (libpq's
    // names hosts, addresses, ports and users); the text goes to the log.
    readiness.reason = "the database is unreachable: connection to server at \"10.9.8.7\", port 5432 failed";
    auto r = header_answer({"GET", "/readyz", "", {}, ""});
    BOOST_TEST(r.status == 503u);
    BOOST_TEST(json(r).at("reason").as_string() == "database_unavailable");
    BOOST_TEST(r.body.find("10.9.8.7") == std::string::npos, r.body);
    BOOST_TEST(header_answer({"GET", "/healthz", "", {}, ""}).status == 200u);
}

BOOST_AUTO_TEST_CASE(invalid_json_is_400_naming_the_byte_and_kept_as_rejected) {
    auto r = body_answer(intake(post("/")), R"({"eventId": 12, "eventName": "The Sim)");
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(std::string(json(r).at("detail").as_string()).find("at byte 37") != std::string::npos);
    BOOST_REQUIRE(sink.received.size() == 1u);
    BOOST_TEST(sink.received[0].rejected_because.find("at byte 37") != std::string::npos);
    BOOST_TEST(body_answer(intake(post("/")), "").status == 400u);
    BOOST_TEST(sink.received.size() == 1u);  // an empty body is nothing to keep
}

BOOST_AUTO_TEST_CASE(a_body_contradicting_its_path_is_400_saying_why_and_kept_as_rejected) {
    auto r = body_answer(intake(post("/eventsinfo")),
                         R"({"demand": [{"hotelCode": 1, "date": "2026-01-01", "absoluteDemand": 5}]})");
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(json(r).at("error").as_string() == "kind_mismatch");
    std::string detail(json(r).at("detail").as_string());
    BOOST_TEST(detail.find("hoteldemand") != std::string::npos, detail);
    BOOST_TEST(detail.find("/eventsinfo") != std::string::npos, detail);
    BOOST_REQUIRE(sink.received.size() == 1u);
    BOOST_TEST(!sink.received[0].rejected_because.empty());
}

BOOST_AUTO_TEST_CASE(the_body_is_classified_and_its_rows_handed_over) {
    auto r = body_answer(intake(post("/")), R"([{"eventId": 1}, {"eventId": 2}])");
    BOOST_TEST(r.status == 202u);
    BOOST_TEST(json(r).at("kind").as_string() == "eventsinfo");
    BOOST_REQUIRE(sink.received.size() == 1u);
    BOOST_TEST((sink.received[0].kind == Kind::eventsinfo));
    BOOST_TEST(sink.received[0].records.events.size() == 2u);
    BOOST_TEST(sink.received[0].rejected_because.empty());
}

BOOST_AUTO_TEST_CASE(valid_json_is_handed_to_the_sink_whatever_the_content_type) {
    auto r = body_answer(intake(post("/eventsinfo")), R"({"eventId": 1})");
    BOOST_TEST(r.status == 202u);
    auto j = json(r);
    BOOST_TEST(j.at("delivery_id").as_int64() == 41);
    BOOST_TEST(j.at("kind").as_string() == "eventsinfo");
    BOOST_TEST(j.at("duplicate").as_bool() == false);
    BOOST_REQUIRE(sink.received.size() == 1u);
    BOOST_TEST(sink.received[0].body == R"({"eventId": 1})");
    BOOST_TEST(sink.received[0].principal == "bearer:1");
    BOOST_TEST(sink.received[0].remote_addr == "192.0.2.1");
    BOOST_TEST((sink.received[0].body_sha256 == sha256(R"({"eventId": 1})")));
}

BOOST_AUTO_TEST_CASE(duplicate_is_2xx_with_the_first_id) {
    sink.answer = StoreOutcome::duplicate(7, Kind::hoteldemand, 5);
    auto r = body_answer(intake(post("/")), "[]");
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(json(r).at("delivery_id").as_int64() == 7);
    BOOST_TEST(json(r).at("duplicate").as_bool() == true);
}

BOOST_AUTO_TEST_CASE(unavailable_database_is_503_with_retry_after) {
    sink.answer = StoreOutcome::unavailable("the database is unreachable");
    auto r = body_answer(intake(post("/")), "{}");
    BOOST_TEST(r.status == 503u);
    BOOST_TEST(header(r, "Retry-After") == "5");
    BOOST_TEST(json(r).at("error").as_string() == "unavailable");
}

BOOST_AUTO_TEST_CASE(metrics_count_what_the_handler_sees) {
    auto scrape = [&] {
        auto r = header_answer({"GET", "/metrics", "", {}, ""});
        BOOST_TEST(r.status == 200u);
        BOOST_TEST(r.content_type.find("text/plain") == 0u);
        return r.body;
    };
    BOOST_TEST(scrape().find("eventsshop_deliveries_total{kind=\"eventsinfo\"} 0") != std::string::npos);
    body_answer(intake(post("/")), R"({"eventId": 1})");
    header_answer(post("/", "Bearer wrong"));
    body_answer(intake(post("/")), "{not json");
    auto text = scrape();
    BOOST_TEST(text.find("eventsshop_deliveries_total{kind=\"eventsinfo\"} 1") != std::string::npos, text);
    BOOST_TEST(text.find("eventsshop_records_total{kind=\"eventsinfo\"} 1") != std::string::npos, text);
    BOOST_TEST(text.find("eventsshop_auth_failures_total 1") != std::string::npos, text);
    BOOST_TEST(text.find("eventsshop_rejected_deliveries_total{reason=\"invalid_json\"} 1") != std::string::npos, text);
    BOOST_TEST(text.find("eventsshop_database_up 1") != std::string::npos, text);
    readiness.reason = "down";
    BOOST_TEST(scrape().find("eventsshop_database_up 0") != std::string::npos);
    BOOST_TEST(header_answer({"POST", "/metrics", "", {}, ""}).status == 405u);
}

BOOST_AUTO_TEST_CASE(metrics_token_and_separate_listener) {
    config.metrics_token = "scrape-me";
    handler.set_credentials(Credentials::make(auth, config.metrics_token));  // as a start or a reload does
    BOOST_TEST(header_answer({"GET", "/metrics", "", {}, ""}).status == 401u);
    BOOST_TEST(header_answer({"GET", "/metrics", "Bearer wrong", {}, ""}).status == 401u);
    BOOST_TEST(header_answer({"GET", "/metrics", "Bearer scrape-me", {}, ""}).status == 200u);
    config.metrics_token.clear();
    handler.set_credentials(Credentials::make(auth, config.metrics_token));
    config.metrics_listen = ListenAddress{"127.0.0.1", 9100};
    BOOST_TEST(header_answer({"GET", "/metrics", "", {}, ""}).status == 404u);  // not on the main address
    RequestHead on_metrics{"GET", "/metrics", "", {}, "", true};
    BOOST_TEST(header_answer(on_metrics).status == 200u);
    RequestHead delivery_there{"POST", "/", "Bearer tok", 10, "", true};
    BOOST_TEST(header_answer(delivery_there).status == 404u);  // deliveries only on the main address
    RequestHead health_there{"GET", "/healthz", "", {}, "", true};
    BOOST_TEST(header_answer(health_there).status == 200u);
    // Issue 13: with --metrics-listen, all three internal endpoints move there.
    BOOST_TEST(header_answer({"GET", "/healthz", "", {}, ""}).status == 404u);
    BOOST_TEST(header_answer({"GET", "/readyz", "", {}, ""}).status == 404u);
}

// Issue 13: wrong metrics tokens were never throttled, so the token could be guessed at line speed.
BOOST_AUTO_TEST_CASE(metrics_token_failures_are_throttled_too) {
    config.metrics_token = "scrape-me";
    handler.set_credentials(Credentials::make(auth, config.metrics_token));
    for (int i = 0; i < 50; ++i) header_answer({"GET", "/metrics", "Bearer guess", {}, "192.0.2.9"});
    BOOST_TEST(header_answer({"GET", "/metrics", "Bearer guess", {}, "192.0.2.9"}).status == 429u);
    BOOST_TEST(header_answer({"GET", "/metrics", "Bearer scrape-me", {}, "192.0.2.9"}).status == 200u);
}

// Issue 13: 503 and 500 answers said PostgreSQL's error text to the sender.
BOOST_AUTO_TEST_CASE(store_failures_answer_a_reason_class_not_server_text) {
    sink.answer = StoreOutcome::unavailable("connection to server at \"10.9.8.7\", port 5432 failed: FATAL: role \"app\"");
    auto r = body_answer(intake(post("/")), R"({"eventId": 1})");
    BOOST_TEST(r.status == 503u);
    BOOST_TEST(json(r).at("reason").as_string() == "database_unavailable");
    BOOST_TEST(r.body.find("10.9.8.7") == std::string::npos, r.body);
    BOOST_TEST(r.body.find("app") == std::string::npos, r.body);
    sink.answer = StoreOutcome::failed("ERROR: permission denied for table deliveries");
    r = body_answer(intake(post("/")), R"({"eventId": 2})");
    BOOST_TEST(r.status == 500u);
    BOOST_TEST(json(r).at("reason").as_string() == "database_refused");
    BOOST_TEST(r.body.find("permission") == std::string::npos, r.body);
}


// Issue 11: a spool whose drain keeps failing, or that is out of service, is not ready, and says
// why; /metrics has the drain's failures, quarantined records and the oldest record's age.
BOOST_AUTO_TEST_CASE(a_stuck_spool_is_not_ready_and_its_state_is_exported) {
    Fixture f;
    DeliverySink::SpoolDepth spool;
    spool.records = 3;
    spool.oldest_age_seconds = 42.5;
    spool.failing_drains = 1;
    spool.drain_error = "boom";
    spool.drain_failures = 7;
    spool.quarantined = 2;
    f.sink.spool = spool;
    RequestHead ready{"GET", "/readyz", "", 0, "192.0.2.1"};
    BOOST_TEST(f.header_answer(ready).status == 200u);  // one failure: a passing fault

    spool.failing_drains = DeliverySink::SpoolDepth::failing_drains_when_stuck;
    f.sink.spool = spool;
    auto r = f.header_answer(ready);
    BOOST_TEST(r.status == 503u);
    auto j = boost::json::parse(r.body);
    BOOST_TEST(j.at("reason").as_string() == "spool_not_draining", r.body);
    BOOST_TEST(r.body.find("boom") == std::string::npos, r.body);
    BOOST_TEST(j.at("spool").at("quarantined").to_number<int>() == 2);

    spool.failing_drains = 0;
    spool.in_service = false;
    f.sink.spool = spool;
    BOOST_TEST(f.header_answer(ready).status == 503u);

    RequestHead scrape{"GET", "/metrics", "", 0, "192.0.2.1"};
    auto m = f.header_answer(scrape).body;
    for (const char* line : {"eventsshop_spool_drain_failures_total 7", "eventsshop_spool_quarantined_total 2",
                             "eventsshop_spool_oldest_record_age_seconds 42.5", "eventsshop_spool_in_service 0",
                             "eventsshop_spool_enabled 1"})
        BOOST_TEST(m.find(line) != std::string::npos, line);
}

BOOST_AUTO_TEST_CASE(spool_series_exist_without_a_spool) {
    Fixture f;
    RequestHead scrape{"GET", "/metrics", "", 0, "192.0.2.1"};
    auto m = f.header_answer(scrape).body;
    for (const char* line : {"eventsshop_spool_enabled 0", "eventsshop_spool_records 0",
                             "eventsshop_spool_quarantined_total 0"})
        BOOST_TEST(m.find(line) != std::string::npos, line);
}

BOOST_AUTO_TEST_SUITE_END()
