#include "payload_test_support.hpp"

#include <boost/json/memory_resource.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <new>

using namespace esr;
using namespace esr::payload;
using namespace esr::payload::test;

// The one-pass extractor (extract_streaming, extract_body): what the large lane uses.
BOOST_AUTO_TEST_SUITE(streaming)

// The one-pass extractor (no document of the whole body) must agree with the document one.
BOOST_AUTO_TEST_CASE(agrees_with_the_document_extractor_on_every_fixture) {
    for (const auto& entry : std::filesystem::directory_iterator(ESR_FIXTURES_DIR)) {
        auto name = entry.path().filename().string();
        if (entry.path().extension() != ".json" || name == "malformed-truncated.json") continue;
        BOOST_TEST_CONTEXT(name) {
            auto body = fixture(name);
            auto dom = of(body);
            auto streamed = extract_body(body, std::nullopt);
            BOOST_REQUIRE(std::holds_alternative<Extraction>(streamed));
            const auto& x = std::get<Extraction>(streamed);
            BOOST_TEST((x.kind == dom.kind));
            BOOST_TEST(x.reason == dom.reason);
            BOOST_TEST((x.events == dom.events));
            BOOST_TEST((x.impacts == dom.impacts));
            BOOST_TEST((x.demand == dom.demand));
            BOOST_TEST((x.demand_events == dom.demand_events));
        }
    }
}

struct CountingSink : DemandRowSink {
    std::vector<DemandRecord> rows;
    void row(DemandRecord&& r) override { rows.push_back(std::move(r)); }
};

BOOST_AUTO_TEST_CASE(rows_go_to_the_sink_and_not_into_the_extraction) {
    CountingSink sink;
    auto r = extract_streaming(fixture("hoteldemand-city.json"), std::nullopt, sink);
    BOOST_REQUIRE(std::holds_alternative<Extraction>(r));
    const auto& x = std::get<Extraction>(r);
    BOOST_TEST(sink.rows.size() == 4u);
    BOOST_TEST(x.demand.empty());
    BOOST_TEST(x.streamed_demand == 4u);
    BOOST_TEST(x.record_count() == 7u);
    BOOST_TEST(*sink.rows[0].demand_id == 613);  // from the envelope, seen before the rows
    BOOST_TEST(!sink.rows[0].hotel_code->empty());
}

BOOST_AUTO_TEST_CASE(envelope_members_after_the_rows_are_reported_as_defaults) {
    const std::string body = R"({"demand": [{"hotelCode": 1, "date": "2026-01-01", "absoluteDemand": 5}],
                                 "demandId": 99, "city": "Oslo"})";
    CountingSink sink;
    auto r = extract_streaming(body, std::nullopt, sink);
    BOOST_REQUIRE(std::holds_alternative<Extraction>(r));
    BOOST_TEST(!sink.rows[0].demand_id);
    BOOST_TEST(*std::get<Extraction>(r).demand_defaults.demand_id == 99);
    auto filled = std::get<Extraction>(extract_body(body, std::nullopt));
    BOOST_TEST(*filled.demand[0].demand_id == 99);
    BOOST_TEST(*filled.demand[0].city == "Oslo");
}

BOOST_AUTO_TEST_CASE(a_demand_row_under_another_declared_kind_stops_the_parse) {
    CountingSink sink;
    auto r = extract_streaming(fixture("hoteldemand-hotel.json"), Kind::eventsinfo, sink);
    BOOST_REQUIRE(std::holds_alternative<KindMismatch>(r));
    BOOST_TEST(sink.rows.empty());
    BOOST_TEST((std::get<KindMismatch>(r).found == Kind::hoteldemand));
    BOOST_TEST(std::get<KindMismatch>(r).message ==
               "the body looks like hoteldemand (records with demand figures: absoluteDemand, relativeDemand, "
               "eventsRegistered), not eventsinfo");
    // The same refusal as a value from extract_body, which the small lane uses.
    BOOST_TEST(std::holds_alternative<KindMismatch>(extract_body(fixture("hoteldemand-hotel.json"), Kind::eventsinfo)));
}

BOOST_AUTO_TEST_CASE(syntax_errors_say_where) {
    auto r = extract_body(fixture("malformed-truncated.json"), std::nullopt);
    BOOST_REQUIRE(std::holds_alternative<JsonSyntaxError>(r));
    BOOST_TEST(std::get<JsonSyntaxError>(r).offset == fixture("malformed-truncated.json").size());
    auto deep = extract_body(std::string(100000, '[') + std::string(100000, ']'), std::nullopt);
    BOOST_TEST(std::holds_alternative<JsonSyntaxError>(deep));
    auto trailing = extract_body("{} {}", std::nullopt);
    BOOST_REQUIRE(std::holds_alternative<JsonSyntaxError>(trailing));
    BOOST_TEST(std::get<JsonSyntaxError>(trailing).offset == 3u);
}

// Found by fuzz_payload: an event whose own array holds demand rows. Both extractors must see the
// demand rows wherever they stand as array elements.
BOOST_AUTO_TEST_CASE(regression_demand_rows_inside_an_event_record) {
    const std::string body = "{\x0a""  \x22""eventId\x22"": 884201,\x0a""  \x22""eventName\x22"": \x22""Mobile World Congress 2027\x22"",\x0a""  \x22""category3\x22"": \x22""3\x22"",\x0a""  \x22""subCategoee\x22"": \x22""500-1000\x22"", \x22""venue\x22"": \x22""Richard Ro\x22"", \x22""date\x22"": \x22""2026-03-v02\x22"", \x22""absoluteDemandy\x22"": \x22""Barcelona\x22"",\x0a""  \x22""country\x22"": \x22""Spain\x22"",\x0a""  \x22""startDate\x22"": \x22""2026-03-02\x22"",\x0a""  \x22""horizon\x22"": 2,\x0a""  \x22""demand\x22"": [\x0a""    {\x22""hotelCode\x22"": 12345, \x22""hotelName\x22"": \x22""Hotel Arts Barcelona\x22"", \x22""date\x22"": \x22""2026-03-0\xff""\xff""\xfe""\xcf""2\x22"", \x22""absoluteDemand\x22"": 1412, \x22""relativeDemand\x22"": 93, \x22""eventsRegistered\x22"": 5},\x0a""    {\x22""hotelCode\x22"": 12345, \x22""hotelName\x22"": \x22""Hotel Arts Barcelona\x22"", \x22""date\x22"": \x22""2026-03-03\x22"", \x22""absoluteDemand\x22"": 1501, \x22""relativeDemand\x22"": 100, \x22""eventsRegistered\x22"": 5},\x0a""    {\x22""hotelCode\x22"": 22871, \x22""hotelName\x22"": \x22""W Barcelona\x22"", \x22""d\x22"": \x22""2026-03-04\x22"", \x22""impactScore\x22"": 95},\x0a""    {\x22""date\x22"": \x22""2026-03-05\x22"", \x22""impactScore\x22"": 72}\x0a""  ]\x0a""}\x0a""";
    auto streamed = extract_body(body, std::nullopt);
    BOOST_REQUIRE(std::holds_alternative<Extraction>(streamed));
    auto document = parse_json(body);
    BOOST_REQUIRE(std::holds_alternative<boost::json::value>(document));
    auto dom = std::get<Extraction>(extract(std::get<boost::json::value>(document)));
    BOOST_TEST((std::get<Extraction>(streamed).kind == Kind::hoteldemand));
    BOOST_TEST((dom.kind == Kind::hoteldemand));
    BOOST_TEST((std::get<Extraction>(streamed).demand == dom.demand));
}

// Also found by fuzz_payload: a key repeated over an array of demand rows. The stream has handed
// the first array's rows on before the repeat; the body (kept whole) says both, so that stands.
BOOST_AUTO_TEST_CASE(regression_repeated_key_over_demand_rows_is_counted) {
    const std::string body = R"({"rows": [{"hotelCode": 1, "date": "2026-01-01", "absoluteDemand": 5}],
                                 "rows": [{"eventId": 9, "eventName": "E"}]})";
    auto x = std::get<Extraction>(extract_body(body, std::nullopt));
    BOOST_TEST(x.duplicate_keys == 1u);
    BOOST_TEST((x.kind == Kind::hoteldemand));
    BOOST_TEST(x.demand.size() == 1u);
}

BOOST_AUTO_TEST_CASE(hostile_sizes_are_refused_with_a_reason) {
    auto refused = [](const std::string& body) {
        auto r = extract_body(body, std::nullopt);
        return std::holds_alternative<JsonSyntaxError>(r) ? std::get<JsonSyntaxError>(r).message : std::string();
    };
    BOOST_TEST(!refused(R"({"s": ")" + std::string(2 << 20, 'x') + R"("})").empty());   // a 2 MB string
    BOOST_TEST(!refused(R"({")" + std::string(2000, 'k') + R"(": 1})").empty());         // a 2 KB key
    std::string wide = "{";
    for (int i = 0; i < 10'001; ++i) wide += (i ? R"(,"k)" : R"("k)") + std::to_string(i) + R"(":1)";
    BOOST_TEST(!refused(wide + "}").empty());                                         // 10,001 members
    BOOST_TEST(refused(R"({"s": ")" + std::string(100'000, 'x') + R"("})").empty());    // 100 KB is fine
}

BOOST_AUTO_TEST_CASE(a_large_matrix_streams_every_row) {
    std::string body = R"({"demandId": 5, "hotelCode": 0, "city": "Rome", "demand": [)";
    for (int h = 0; h < 50; ++h)
        for (int d = 1; d <= 28; ++d)
            body += (h || d > 1 ? "," : "") + std::string(R"({"hotelCode": )") + std::to_string(h) +
                    R"(, "date": "2026-02-)" + (d < 10 ? "0" : "") + std::to_string(d) + R"(", "relativeDemand": 50})";
    body += "]}";
    CountingSink sink;
    auto r = extract_streaming(body, Kind::hoteldemand, sink);
    BOOST_REQUIRE(std::holds_alternative<Extraction>(r));
    BOOST_TEST(sink.rows.size() == 1400u);
    BOOST_TEST((std::get<Extraction>(r).kind == Kind::hoteldemand));
    BOOST_TEST(*sink.rows.back().city == "Rome");
    BOOST_TEST(*sink.rows.back().hotel_code == "49");
    BOOST_TEST(*sink.rows.front().hotel_code == "0");  // a row's own 0 is a hotel code, not "city-wide"
}

/// Counts what a parse keeps allocated: the peak of live bytes.
class CountingResource : public boost::json::memory_resource {
public:
    std::size_t live = 0, peak = 0;

private:
    void* do_allocate(std::size_t n, std::size_t align) override {
        live += n;
        peak = std::max(peak, live);
        return ::operator new(n, std::align_val_t(align));
    }
    void do_deallocate(void* p, std::size_t n, std::size_t align) override {
        live -= n;
        ::operator delete(p, std::align_val_t(align));
    }
    bool do_is_equal(const memory_resource& other) const noexcept override { return this == &other; }
};

// Issue 16: 10 MB of [{},{},...] took 189 MB on the large lane: every element was kept in the
// document although none can hold a record. Elements outside any object that hold no record are
// dropped as they end, so what the parse holds is bounded by one element, not by the body.
BOOST_AUTO_TEST_CASE(elements_that_hold_no_record_are_not_kept) {
    const std::size_t n = 100'000;
    std::string empties = "[{}";
    for (std::size_t i = 1; i < n; ++i) empties += ",{}";
    empties += "]";
    std::string scalars = "[[1";
    for (std::size_t i = 1; i < n; ++i) scalars += ",1";
    scalars += "]]";
    std::string nested;
    for (std::size_t i = 0; i < 2'000; ++i) nested += std::string(i ? "," : "[") + R"({"a":{"a":{"a":{"a":{"a":{"a":1}}}}}})";
    nested += "]";
    for (const auto* body : {&empties, &scalars, &nested}) {
        BOOST_TEST_CONTEXT(body->substr(0, 40)) {
            CountingResource counting;
            CountingSink sink;
            auto r = extract_streaming(*body, std::nullopt, sink, boost::json::storage_ptr(&counting));
            BOOST_REQUIRE(std::holds_alternative<Extraction>(r));
            BOOST_TEST((std::get<Extraction>(r).kind == Kind::unclassified));
            BOOST_TEST(counting.peak < 64u * 1024u, "the parse held " << counting.peak << " bytes at its peak");
        }
    }
    // Records among them are kept and extracted as before.
    std::string mixed = R"([{}, 1, {"eventId": 7, "eventName": "Kept"}, [], {"x": {"y": 1}}])";
    auto x = extract_body(mixed, std::nullopt);
    BOOST_REQUIRE(std::holds_alternative<Extraction>(x));
    BOOST_TEST((std::get<Extraction>(x).kind == Kind::eventsinfo));
    BOOST_TEST(std::get<Extraction>(x).events.size() == 1u);
    BOOST_TEST((std::get<Extraction>(x).events == of(mixed).events));
}

// Found by review: a demand row that is an object's member (not an array element) is not streamed
// but found in the document; extract_body replaced the document's rows with the streamed ones, so
// the small lane lost it while the large lane stored it. Both lanes must keep the same rows.
BOOST_AUTO_TEST_CASE(demand_rows_that_are_members_are_kept_by_both_lanes) {
    for (std::string body : {std::string(R"({"data": {"hotelCode": "H", "date": "2024-01-01", "absoluteDemand": 5}})"),
                             std::string(R"({"hotelCode": "H", "data": [{"date": "2024-01-02", "absoluteDemand": 6}],)"
                                         R"( "summary": {"date": "2024-01-03", "absoluteDemand": 7}})")}) {
        BOOST_TEST_CONTEXT(body) {
            auto small = extract_body(body, std::nullopt);
            BOOST_REQUIRE(std::holds_alternative<Extraction>(small));
            const auto& x = std::get<Extraction>(small);
            CountingSink sink;
            auto large = extract_streaming(body, std::nullopt, sink);
            BOOST_REQUIRE(std::holds_alternative<Extraction>(large));
            const auto& y = std::get<Extraction>(large);
            BOOST_TEST(x.record_count() == y.record_count());
            BOOST_TEST(x.demand.size() == sink.rows.size() + y.demand.size());
            BOOST_TEST((x.demand == of(body).demand));  // and as the document extractor finds them
        }
    }
}

// With a declared kind, an element's records are extracted when it ends and the element is not
// kept: 20 MB of events took the body, a document of it and the records at once.
BOOST_AUTO_TEST_CASE(with_a_declared_kind_records_are_extracted_element_by_element) {
    std::string events = "[";
    for (int i = 0; i < 5'000; ++i)
        events += (i ? "," : "") + std::string(R"({"eventId": )") + std::to_string(i % 4'000) +
                  R"(, "eventName": "Concert", "description": ")" + std::string(200, 'd') + R"(", "city": "Oslo"})";
    events += "]";
    CountingResource counting;
    CountingSink sink;
    auto r = extract_streaming(events, Kind::eventsinfo, sink, boost::json::storage_ptr(&counting));
    BOOST_REQUIRE(std::holds_alternative<Extraction>(r));
    const auto& x = std::get<Extraction>(r);
    BOOST_TEST(counting.peak < 64u * 1024u, "the parse held " << counting.peak << " bytes at its peak");
    // The same answer as the document extractor's: 4,000 events (1,000 repeated ids merged).
    const auto dom = of(events, Kind::eventsinfo);
    BOOST_TEST(x.events.size() == 4'000u);
    BOOST_TEST((x.events == dom.events));
    BOOST_TEST(x.reason == dom.reason);
}

// Every fixture, under every declared kind, gets the same answer from both extractors, refusals
// included.
BOOST_AUTO_TEST_CASE(agrees_with_the_document_extractor_under_every_declared_kind) {
    for (const auto& entry : std::filesystem::directory_iterator(ESR_FIXTURES_DIR)) {
        auto name = entry.path().filename().string();
        if (entry.path().extension() != ".json" || name == "malformed-truncated.json") continue;
        auto body = fixture(name);
        for (Kind declared : {Kind::eventsinfo, Kind::eventimpact, Kind::hoteldemand}) {
            BOOST_TEST_CONTEXT(name << " declared " << to_string(declared)) {
                auto dom = extract(parsed(body), declared);
                auto streamed = extract_body(body, declared);
                if (const auto* refused = std::get_if<KindMismatch>(&dom)) {
                    const auto* also = std::get_if<KindMismatch>(&streamed);
                    BOOST_REQUIRE(also);
                    BOOST_TEST((also->found == refused->found && also->declared == refused->declared));
                    // A demand row is refused by the stream at the first one, before they are counted.
                    if (refused->found != Kind::hoteldemand) BOOST_TEST(also->message == refused->message);
                    continue;
                }
                BOOST_REQUIRE(std::holds_alternative<Extraction>(streamed));
                const auto& x = std::get<Extraction>(streamed);
                const auto& d = std::get<Extraction>(dom);
                BOOST_TEST((x.kind == d.kind));
                BOOST_TEST(x.reason == d.reason);
                BOOST_TEST((x.events == d.events));
                BOOST_TEST((x.impacts == d.impacts));
                BOOST_TEST((x.demand_events == d.demand_events));
            }
        }
    }
}

// Boost.JSON 1.81 reads some 17-digit numbers one unit in the last place off (about one shortest
// round-trip coordinate in eight); the typed columns must hold the double the text names, as a
// number sent as a string already does (std::from_chars).
BOOST_AUTO_TEST_CASE(json_numbers_are_read_to_the_nearest_double) {
    const std::string events = R"([{"eventId": 1, "eventName": "E", "lat": 123456789.12345679,
                                    "lng": -172.43127776997827, "score": 0.49431128204553837}])";
    auto near = [](const char* text) {
        double d = 0;
        std::from_chars(text, text + std::strlen(text), d);
        return d;
    };
    auto extracted = extract_body(events, std::nullopt);
    BOOST_REQUIRE(std::holds_alternative<Extraction>(extracted));
    const auto& x = std::get<Extraction>(extracted);
    BOOST_REQUIRE(x.events.size() == 1u);
    BOOST_TEST(*x.events[0].lat == near("123456789.12345679"));
    BOOST_TEST(*x.events[0].lng == near("-172.43127776997827"));
    BOOST_TEST(x.events[0].extra.at("score").as_double() == near("0.49431128204553837"));
    // The document parser (the fuzz harness's reference) reads them the same.
    auto document = parse_json(events);
    BOOST_REQUIRE(std::holds_alternative<boost::json::value>(document));
    BOOST_TEST(std::get<boost::json::value>(document).at(0).at("lat").as_double() == near("123456789.12345679"));
    // A demand row, handed to the sink as it ends.
    const std::string demand = R"([{"hotelCode": 1, "date": "2026-01-01", "absoluteDemand": 5,
                                    "relativeDemand": -15.075161560223165}])";
    CountingSink sink;
    auto r = extract_streaming(demand, std::nullopt, sink);
    BOOST_REQUIRE(std::holds_alternative<Extraction>(r));
    BOOST_REQUIRE(sink.rows.size() == 1u);
    BOOST_TEST(*sink.rows[0].relative_demand == near("-15.075161560223165"));
    // Beyond a double's range the number stays what the parser made of it (coerce reports it).
    auto huge = parse_json(R"({"lat": 1e400})");
    BOOST_REQUIRE(std::holds_alternative<boost::json::value>(huge));
    BOOST_TEST(std::isinf(std::get<boost::json::value>(huge).at("lat").as_double()));
}

// Unusable own values (structured, not a number) and a vendor member named _uncoerced: both
// extractors give the same rows and marks; no row takes the envelope's value for one of its own,
// and the vendor's member is kept inside extra._uncoerced, which stays the daemon's.
BOOST_AUTO_TEST_CASE(unusable_own_values_agree_between_the_extractors) {
    const std::string body = R"({"demandId": 99, "hotelCode": "H1", "city": "Oslo", "demand": [
        {"hotelCode": [1], "_uncoerced": "x", "date": "2026-01-01", "absoluteDemand": 1},
        {"_uncoerced": {"hotelCode": 5}, "date": "2026-01-02", "absoluteDemand": 2},
        {"city": {"a": 1}, "demandId": "abc", "date": "2026-01-03", "absoluteDemand": 3}],
      "eventRecords": [{"eventId": 501, "demandId": [7], "eventName": "E", "date": "2026-01-01"},
                       {"eventId": 502, "eventName": "F", "date": "2026-01-01"},
                       {"eventId": 503, "demandId": null, "demand_id": [8], "eventName": "G", "date": "2026-01-01"},
                       {"eventId": 504, "demandId": "", "eventName": "H", "date": "2026-01-01"}]})";
    auto streamed = extract_body(body, std::nullopt);
    BOOST_REQUIRE(std::holds_alternative<Extraction>(streamed));
    const auto& x = std::get<Extraction>(streamed);
    const auto dom = of(body);
    BOOST_TEST((x.demand == dom.demand));
    BOOST_TEST((x.demand_events == dom.demand_events));
    BOOST_REQUIRE(x.demand.size() == 3u);
    BOOST_TEST(!x.demand[0].hotel_code);
    BOOST_TEST(boost::json::serialize(x.demand[0].extra) == R"({"_uncoerced":{"hotelCode":[1],"_uncoerced":"x"}})");
    BOOST_TEST(*x.demand[1].hotel_code == "H1");
    BOOST_TEST(boost::json::serialize(x.demand[1].extra) == R"({"_uncoerced":{"_uncoerced":{"hotelCode":5}}})");
    BOOST_TEST(!x.demand[2].city);
    BOOST_TEST(!x.demand[2].demand_id);
    BOOST_TEST(*x.demand[2].hotel_code == "H1");
    BOOST_REQUIRE(x.demand_events.size() == 4u);
    BOOST_TEST(!x.demand_events[0].demand_id);  // its own [7], not the envelope's 99
    BOOST_TEST(*x.demand_events[1].demand_id == 99);
    BOOST_TEST(!x.demand_events[2].demand_id);  // its own [8], whichever spelling comes first
    BOOST_TEST(*x.demand_events[3].demand_id == 99);  // "" is none, as for a demand row
    // An envelope's "" is none on both lanes (the large lane's late fill takes "" for none).
    auto empty = std::get<Extraction>(extract_body(R"({"demand": [{"date": "2026-01-01", "absoluteDemand": 1}],
                                                        "hotelCode": "", "city": "", "country": "NO"})", std::nullopt));
    BOOST_REQUIRE(empty.demand.size() == 1u);
    BOOST_TEST(!empty.demand[0].hotel_code);
    BOOST_TEST(!empty.demand[0].city);
    BOOST_TEST(*empty.demand[0].country == "NO");
}

BOOST_AUTO_TEST_SUITE_END()
