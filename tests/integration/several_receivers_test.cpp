// Issue 15: several receivers, one database. Three daemons (each its own --state-dir) behind the
// shipped upstream site (deploy/nginx-eventsshop-receiver-upstream.conf), one PostgreSQL, clients
// posting events, impacts and demand matrices (small and large lane, overlapping hotels and nights,
// duplicates on purpose) while one daemon is killed with SIGKILL.
#include "nginx.hpp"
#include "world.hpp"

#include "esr/http/client.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <pqxx/nontransaction>
#include <pqxx/prepared_statement>
#include <pqxx/result>
#include <pqxx/transaction>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

using namespace esr::test;
using namespace std::chrono_literals;

namespace {

// Bodies from this size take the large lane (streamed, rows through COPY, latest_pending).
constexpr std::size_t large_from = 6000;

/// The shipped upstream site in front of `daemons`.
std::string upstream_site(int listen_port, const std::vector<int>& daemons, const std::filesystem::path& pki) {
    std::vector<std::pair<std::string, std::string>> more;
    for (std::size_t i = 0; i < daemons.size(); ++i)
        more.emplace_back("server 127\\.0\\.0\\.1:808" + std::to_string(i + 1) + " ",
                          "server 127.0.0.1:" + std::to_string(daemons[i]) + " ");
    return shipped_site("nginx-eventsshop-receiver-upstream.conf", listen_port, pki, more);
}

struct Sent {
    std::string path;
    std::string body;
    unsigned status = 0;  // 0: no answer (the connection failed)
    std::string answer;
};

std::string two(int n) { return (n < 10 ? "0" : "") + std::to_string(n); }

/// One client's bodies: events 1..8 with fields left out at random, impacts of events 101..105,
/// demand matrices of hotels H1..H4 over August, small (a few rows) or large (over large_from).
class Bodies {
public:
    Bodies(int client, unsigned seed) : client_(client), rng_(seed) {}

    std::pair<std::string, std::string> next() {
        const std::string tag = std::to_string(client_) + "-" + std::to_string(++n_);
        switch (pick(10)) {
            case 0: case 1: case 2: {
                std::string b = R"({"eventId": )" + std::to_string(1 + pick(8)) + R"(, "description": ")" + tag + "\"";
                if (pick(2)) b += R"(, "eventName": "name )" + tag + "\"";
                if (pick(2)) b += R"(, "city": "city )" + tag + "\"";
                if (pick(2)) b += R"(, "venue": "venue )" + tag + "\"";
                return {"/eventsinfo", b + "}"};
            }
            case 3: case 4: {
                std::string b = "[";
                for (int r = 0; r < 3; ++r)
                    b += std::string(r ? ", " : "") + R"({"eventId": )" + std::to_string(101 + pick(5)) +
                         R"(, "date": "2026-07-)" + two(1 + pick(4)) + R"(", "impactScore": )" +
                         std::to_string(pick(100)) + R"(, "note": ")" + tag + "\"}";
                return {"/eventimpact", b + "]"};
            }
            case 5: case 6: case 7: return {"/hoteldemand", matrix(tag, 1 + pick(2), 3)};
            default: return {"/hoteldemand", matrix(tag, 4, 31)};  // large: 124 rows
        }
    }

private:
    int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

    std::string matrix(const std::string& tag, int hotels, int nights) {
        std::string b = R"({"demand": [)";
        const int first_hotel = 1 + pick(4 - hotels + 1), first_night = 1 + pick(31 - nights + 1);
        bool comma = false;
        for (int h = first_hotel; h < first_hotel + hotels; ++h)
            for (int d = first_night; d < first_night + nights; ++d) {
                b += std::string(comma ? ", " : "") + R"({"hotelCode": "H)" + std::to_string(h) +
                     R"(", "date": "2026-08-)" + two(d) + R"(", "absoluteDemand": )" + std::to_string(pick(1000)) +
                     R"(, "relativeDemand": )" + std::to_string(pick(100)) + R"(, "eventsRegistered": )" +
                     std::to_string(pick(5)) + R"(, "hotelName": "hotel )" + tag + "\"}";
                comma = true;
            }
        return b + R"(], "demandId": )" + std::to_string(n_) + "}";
    }

    int client_;
    int n_ = 0;
    std::mt19937 rng_;
};

std::string query1(pqxx::connection& c, const std::string& sql) {
    pqxx::nontransaction tx(c);
    auto r = tx.exec(sql);
    if (r.empty() || r[0][0].is_null()) return "NULL";
    return r[0][0].as<std::string>();
}

// hotel_demand_latest as the history says it should be: per (hotel, night) the hotel_demand row of
// the greatest (observed_at, delivery_id), and within one delivery the row write_demand_latest.sql
// chooses on its values.
const std::string latest_differs_from_history = R"(
WITH expected AS (
    SELECT DISTINCT ON (hotel_code, stay_date) hotel_code, stay_date, demand_id, hotel_name, city, country,
           absolute_demand, relative_demand, events_registered, observed_at, delivery_id
    FROM eventsshop.hotel_demand WHERE hotel_code IS NOT NULL AND stay_date IS NOT NULL
    ORDER BY hotel_code, stay_date, observed_at DESC, delivery_id DESC, absolute_demand DESC NULLS LAST,
             relative_demand DESC NULLS LAST, events_registered DESC NULLS LAST, demand_id DESC NULLS LAST,
             hotel_name, city, country),
actual AS (
    SELECT hotel_code, stay_date, demand_id, hotel_name, city, country, absolute_demand, relative_demand,
           events_registered, observed_at, delivery_id FROM eventsshop.hotel_demand_latest)
SELECT count(*) FROM ((SELECT * FROM expected EXCEPT SELECT * FROM actual)
                      UNION ALL (SELECT * FROM actual EXCEPT SELECT * FROM expected)) AS differences)";

// events as a serial application of the merge rule, in delivery order, says they should be: each
// field the value of the last delivery that gave one.
std::string events_field_differs(const std::string& column, const std::string& member) {
    return R"(
SELECT count(*) FROM eventsshop.events e
WHERE e.event_id BETWEEN 1 AND 8 AND e.)" + column + R"( IS DISTINCT FROM (
    SELECT convert_from(d.body, 'UTF8')::jsonb ->> ')" + member + R"('
    FROM eventsshop.deliveries d
    WHERE d.kind = 'eventsinfo' AND (convert_from(d.body, 'UTF8')::jsonb ->> 'eventId')::bigint = e.event_id
      AND convert_from(d.body, 'UTF8')::jsonb ? ')" + member + R"('
    ORDER BY d.id DESC LIMIT 1))";
}

// event_impacts: per (event, day) the score of the last delivery (and within it the last row).
const std::string impacts_differ = R"(
WITH rows AS (
    SELECT d.id, r.ordinality, (r.value ->> 'eventId')::bigint AS event_id, (r.value ->> 'date')::date AS impact_date,
           (r.value ->> 'impactScore')::double precision AS impact_score
    FROM eventsshop.deliveries d, jsonb_array_elements(convert_from(d.body, 'UTF8')::jsonb) WITH ORDINALITY AS r(value, ordinality)
    WHERE d.kind = 'eventimpact'),
expected AS (
    SELECT DISTINCT ON (event_id, impact_date) event_id, impact_date, impact_score, id AS delivery_id
    FROM rows ORDER BY event_id, impact_date, id DESC, ordinality DESC)
SELECT count(*) FROM ((SELECT * FROM expected EXCEPT SELECT event_id, impact_date, impact_score, delivery_id
                                                   FROM eventsshop.event_impacts)
                      UNION ALL (SELECT event_id, impact_date, impact_score, delivery_id FROM eventsshop.event_impacts
                                 EXCEPT SELECT * FROM expected)) AS differences)";

}  // namespace

BOOST_AUTO_TEST_SUITE(several_receivers)

BOOST_AUTO_TEST_CASE(three_daemons_behind_the_upstream_site_lose_nothing_when_one_is_killed) {
    if (!std::filesystem::exists("/usr/sbin/nginx")) {
        BOOST_TEST_MESSAGE("nginx is not installed (scripts/install-deps.sh installs it): skipped");
        return;
    }
    const auto test_started = std::chrono::steady_clock::now();
    TempDir dir;
    Postgres pg(dir.path / "pg");
    const auto env = daemon_env(pg.url());

    // Three instances migrating an empty database at once, as three units starting together would.
    {
        std::vector<std::string> outputs(3);
        std::vector<int> statuses(3, -1);
        std::vector<std::thread> migrating;
        for (std::size_t i = 0; i < 3; ++i)
            migrating.emplace_back([&, i] { statuses[i] = run({ESR_DAEMON_PATH, "migrate"}, env, &outputs[i]); });
        for (auto& t : migrating) t.join();
        for (std::size_t i = 0; i < 3; ++i) BOOST_TEST_REQUIRE(statuses[i] == 0, outputs[i]);
    }

    std::vector<int> ports;
    std::vector<std::vector<std::string>> flags;
    std::vector<std::unique_ptr<Daemon>> daemons;
    for (int i = 0; i < 3; ++i) {
        ports.push_back(free_port());
        flags.push_back({"--state-dir", (dir.path / ("state-" + std::to_string(i))).string(), "--large-body-bytes",
                         std::to_string(large_from), "--trusted-proxies", "127.0.0.1/32", "--body-timeout", "30s"});
        daemons.push_back(start_daemon(ports.back(), env, dir.path, flags.back()));
    }
    std::string log;
    BOOST_TEST_REQUIRE(make_test_certificates(dir.path, &log), log);
    const int port = free_port();
    Nginx nginx(dir.path / "nginx", upstream_site(port, ports, dir.path), port);
    const auto url = esr::http::parse_url("https://localhost:" + std::to_string(port) + "/");

    // Clients for a fixed time; daemon 1 is killed a third of the way through.
    constexpr auto load_for = 24s;
    std::mutex mutex;
    std::vector<Sent> sent;
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c)
        clients.emplace_back([&, c] {
            Bodies bodies(c, 1000u + static_cast<unsigned>(c));
            std::mt19937 rng(static_cast<unsigned>(c));
            std::vector<std::pair<std::string, std::string>> acknowledged;
            auto client = std::make_unique<esr::http::Client>(
                esr::http::ClientOptions{(dir.path / "ca.pem").string(), 60s});
            while (!stop) {
                // One in six: a body acknowledged before, again (nginx's round robin sends it to
                // another daemon, most likely).
                auto [path, body] = !acknowledged.empty() && rng() % 6 == 0 ? acknowledged[rng() % acknowledged.size()]
                                                                             : bodies.next();
                Sent s{path, body, 0, {}};
                try {
                    auto target = url;
                    target.path = path;
                    auto r = client->request("POST", target, {{"Authorization", bearer_new}}, body);
                    s.status = r.status;
                    s.answer = r.body;
                } catch (const std::exception& e) {
                    s.answer = e.what();
                    client = std::make_unique<esr::http::Client>(
                        esr::http::ClientOptions{(dir.path / "ca.pem").string(), 60s});
                }
                if (s.status / 100 == 2) acknowledged.emplace_back(path, body);
                std::lock_guard lock(mutex);
                sent.push_back(std::move(s));
            }
        });
    std::this_thread::sleep_for(load_for / 3);
    daemons[1]->kill_hard();
    std::this_thread::sleep_for(load_for * 2 / 3);
    stop = true;
    for (auto& t : clients) t.join();

    // The killed daemon back on its state directory, so its spool drains.
    daemons[1] = start_daemon(ports[1], env, dir.path, flags[1]);

    std::set<std::string> acknowledged, all_sent;
    std::size_t large = 0, answered = 0;
    for (const auto& s : sent) {
        all_sent.insert(sha256_hex(s.body));
        if (s.status / 100 != 2) continue;
        acknowledged.insert(sha256_hex(s.body));
        if (s.body.size() >= large_from) ++large;
        ++answered;
    }
    BOOST_TEST_MESSAGE(sent.size() << " requests, " << answered << " acknowledged (" << acknowledged.size()
                                   << " distinct bodies, " << large << " large)");
    BOOST_TEST_REQUIRE(acknowledged.size() > 20u);
    BOOST_TEST(large > 0u);

    pqxx::connection c(pg.url());
    auto missing = [&] {
        std::size_t n = 0;
        pqxx::nontransaction tx(c);
        for (const auto& hex : acknowledged)
            if (tx.exec_params("SELECT 1 FROM eventsshop.deliveries WHERE body_sha256 = decode($1, 'hex') AND "
                               "sha256(body) = body_sha256",
                               hex)
                    .empty())
                ++n;
        return n;
    };
    // Every wait bounded: the spool drains, the large lane's catch-up clears latest_pending.
    const auto give_up = std::chrono::steady_clock::now() + 90s;
    while (std::chrono::steady_clock::now() < give_up &&
           (missing() != 0 || query1(c, "SELECT count(*) FROM eventsshop.deliveries WHERE latest_pending") != "0"))
        std::this_thread::sleep_for(500ms);

    // Every answer that names a delivery names the one that holds its body: a resend answered by
    // another instance as a duplicate gets the first one's id.
    {
        pqxx::nontransaction tx(c);
        std::size_t wrong = 0, named = 0;
        for (const auto& s : sent) {
            if (s.status / 100 != 2) continue;
            auto answer = boost::json::parse(s.answer);
            const auto* id = answer.as_object().if_contains("delivery_id");
            if (!id) continue;  // spooled: stored later, under an id nobody was told
            ++named;
            auto row = tx.exec_params("SELECT id FROM eventsshop.deliveries WHERE body_sha256 = decode($1, 'hex')",
                                      sha256_hex(s.body));
            if (row.size() != 1 || row[0][0].as<std::int64_t>() != id->to_number<std::int64_t>()) ++wrong;
        }
        BOOST_TEST(named > 0u);
        BOOST_TEST(wrong == 0u);
    }

    // Every acknowledged body stored, byte for byte, exactly once (delivery_digests holds each
    // digest once: at most once by construction; checked anyway), and nothing stored that nobody sent.
    BOOST_TEST(missing() == 0u);
    BOOST_TEST(query1(c, "SELECT count(*) FROM (SELECT body_sha256 FROM eventsshop.deliveries GROUP BY 1 "
                         "HAVING count(*) > 1) AS twice") == "0");
    {
        pqxx::nontransaction tx(c);
        std::size_t foreign = 0;
        for (const auto& row : tx.exec("SELECT encode(body_sha256, 'hex') FROM eventsshop.deliveries"))
            if (!all_sent.count(row[0].as<std::string>())) ++foreign;
        BOOST_TEST(foreign == 0u);
    }
    BOOST_TEST(query1(c, "SELECT count(*) FROM eventsshop.deliveries WHERE latest_pending") == "0");

    // The typed tables as serial application of their rules says.
    BOOST_TEST(query1(c, latest_differs_from_history) == "0");
    BOOST_TEST(query1(c, "SELECT count(*) FROM eventsshop.hotel_demand_latest") != "0");
    for (const auto& [column, member] : std::vector<std::pair<std::string, std::string>>{
             {"name", "eventName"}, {"city", "city"}, {"venue", "venue"}, {"description", "description"}})
        BOOST_TEST(query1(c, events_field_differs(column, member)) == "0", column);
    BOOST_TEST(query1(c, impacts_differ) == "0");

    // A large delivery's catch-up is done once, by one instance: every large lane looks for
    // pending work between deliveries, and a matrix's update is seconds of work.
    std::map<std::string, int> caught_up;
    const std::regex catch_up(R"(hotel_demand_latest brought up to date.*"delivery_id":(\d+))");
    for (auto& d : daemons) {
        const std::string text = d->log();
        for (std::sregex_iterator it(text.begin(), text.end(), catch_up), end; it != end; ++it) ++caught_up[(*it)[1]];
    }
    for (const auto& [id, times] : caught_up) BOOST_TEST(times == 1, "delivery " << id << " caught up " << times << " times");
    BOOST_TEST(!caught_up.empty());

    // A catch-up that comes late (a crash, a lost connection left it pending while newer matrices
    // were stored): the oldest large matrices again, applied now, must not overwrite newer rows.
    {
        pqxx::nontransaction tx(c);
        tx.exec_params("UPDATE eventsshop.deliveries SET latest_pending = true WHERE id IN (SELECT id FROM "
                       "eventsshop.deliveries WHERE kind = 'hoteldemand' AND byte_size >= $1 ORDER BY id LIMIT 20)",
                       static_cast<long long>(large_from));
    }
    const auto replayed_by = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < replayed_by &&
           query1(c, "SELECT count(*) FROM eventsshop.deliveries WHERE latest_pending") != "0")
        std::this_thread::sleep_for(200ms);
    BOOST_TEST(query1(c, "SELECT count(*) FROM eventsshop.deliveries WHERE latest_pending") == "0");
    BOOST_TEST(query1(c, latest_differs_from_history) == "0");

    for (auto& d : daemons)
        if (d->running()) BOOST_TEST(d->terminate() == 0, d->log());
    BOOST_TEST_MESSAGE("took " << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                                   test_started).count() << " s");
}

// The events merge at the level of its SQL: rows (one per event and delivery, as typed_rows.cpp
// passes them) applied by upsert_events.sql, or upsert_distinct_events.sql when each event is
// mentioned once (as typed_rows.cpp chooses), in the transactions and orders given.
class EventsMerge {
public:
    struct Delivery {
        long long id;
        std::string name, city, extra;  // "" for none (NULL)
    };

    EventsMerge() : upsert_(statement("upsert_events.sql")), upsert_distinct_(statement("upsert_distinct_events.sql")) {}

    /// One statement in one transaction: the mentions of `event` by `deliveries` together.
    void apply(long long event, const std::vector<Delivery>& deliveries) {
        pqxx::work tx(c_);
        if (events_.insert(event).second)  // a row left by an interrupted run would skew the first merge
            tx.exec_params("DELETE FROM eventsshop.events WHERE event_id = $1", event);
        // One array per column of the statement; columns left empty ({}) come out as NULLs.
        auto array = [&](auto element) {
            std::string a = "{";
            for (const auto& d : deliveries) a += (a.size() > 1 ? "," : "") + element(d);
            return a + "}";
        };
        auto text = [](const std::string& v) { return v.empty() ? std::string("NULL") : "\"" + escape(v) + "\""; };
        std::vector<std::string> columns(23, "{}");
        columns[0] = array([&](const Delivery&) { return std::to_string(event); });
        columns[1] = array([&](const Delivery& d) { return text(d.name); });
        columns[12] = array([&](const Delivery& d) { return text(d.city); });
        columns[20] = array([&](const Delivery& d) { return text(d.extra); });
        columns[21] = array([](const Delivery&) { return std::string("now"); });
        columns[22] = array([](const Delivery& d) { return std::to_string(d.id); });
        const bool repeats = deliveries.size() > 1;  // each delivery here mentions the one event
        tx.exec_params(repeats ? upsert_ : upsert_distinct_, pqxx::prepare::make_dynamic_params(columns));
        tx.commit();
    }

    std::string row(long long event, const std::string& columns = "name, city, extra, last_delivery_id") {
        pqxx::nontransaction tx(c_);
        auto r = tx.exec_params1("SELECT row(" + columns + ")::text FROM eventsshop.events WHERE event_id = $1", event);
        return r[0].as<std::string>();
    }

    ~EventsMerge() {
        pqxx::work tx(c_);
        for (long long e : events_) tx.exec_params("DELETE FROM eventsshop.events WHERE event_id = $1", e);
        tx.commit();
    }

private:
    static std::filesystem::path queries() { return std::filesystem::path(ESR_SOURCE_DIR) / "src/db/queries"; }

    /// A statement's text with its parts in (cmake/embed_queries.cmake does the same at build time).
    static std::string statement(const std::string& file) {
        std::istringstream lines(read_file(queries() / file));
        std::string text, line;
        while (std::getline(lines, line))
            text += (line.rfind("\\ir ", 0) == 0 ? read_file(queries() / line.substr(4)) : line) + "\n";
        return text;
    }

    static std::string escape(const std::string& v) {
        std::string out;
        for (char ch : v) {
            if (ch == '"' || ch == '\\') out += '\\';
            out += ch;
        }
        return out;
    }

    pqxx::connection c_ = db();
    std::string upsert_, upsert_distinct_;
    std::set<long long> events_;
};

// Instances commit in an order of their own: a delivery with a lower id (allocated first) can
// commit after one with a higher id. Serial application in delivery order takes each field from
// the last delivery that gave it; every other commit order must give the same row. Before schema
// 008 the merge compared 10 and 11 with the row's last_delivery_id (12) alone, so applied in the
// order 12, 10, 11, 10's city filled the gap first and 11's, the later, was refused: "ten".
BOOST_AUTO_TEST_CASE(the_events_merge_does_not_depend_on_the_order_deliveries_commit_in) {
    EventsMerge merge;
    const std::vector<EventsMerge::Delivery> deliveries{
        {10, "", "ten", R"({"k": "ten"})"}, {11, "", "eleven", R"({"k": "eleven"})"}, {12, "twelve", "", ""}};
    const long long serial = 915000001, shuffled = 915000002;
    for (const auto& d : deliveries) merge.apply(serial, {d});
    for (std::size_t i : {2u, 0u, 1u}) merge.apply(shuffled, {deliveries[i]});
    BOOST_TEST(merge.row(serial) == R"((twelve,eleven,"{""k"": ""eleven""}",12))");
    BOOST_TEST(merge.row(shuffled) == merge.row(serial));
    BOOST_TEST(merge.row(shuffled).find("eleven") != std::string::npos);

    // Every other order, and the same ids (and values) in every delivery's provenance column.
    std::vector<std::size_t> order{0, 1, 2};
    long long event = 915000010;
    const std::string provenance = "name, city, extra, last_delivery_id, name_delivery_id, city_delivery_id, "
                                   "extra_delivery_ids";
    const std::string expected = merge.row(serial, provenance);
    BOOST_TEST(expected == R"((twelve,eleven,"{""k"": ""eleven""}",12,12,11,"{""k"": 11}"))");
    do {
        ++event;
        for (std::size_t i : order) merge.apply(event, {deliveries[i]});
        BOOST_TEST(merge.row(event, provenance) == expected, "order " << order[0] << order[1] << order[2]);
    } while (std::next_permutation(order.begin(), order.end()));
}

// Group commit and reprocess stage several deliveries of one event in one batch: the upsert merges
// them first (ON CONFLICT cannot touch a row twice in one statement), by the same rule, and the row
// still does not depend on which deliveries shared a batch or in which order the batches committed.
BOOST_AUTO_TEST_CASE(deliveries_of_one_event_staged_together_merge_as_if_applied_one_by_one) {
    EventsMerge merge;
    const EventsMerge::Delivery d10{10, "", "ten", R"({"k": "ten", "only10": 1})"},
        d11{11, "", "eleven", R"({"k": "eleven"})"}, d12{12, "twelve", "", R"({"k": null})"};
    const std::string expected = R"((twelve,eleven,"{""k"": ""eleven"", ""only10"": 1}",12))";
    const long long base = 915000100;
    BOOST_CHECK_NO_THROW(merge.apply(base + 1, {d10, d11, d12}));
    BOOST_CHECK_NO_THROW(merge.apply(base + 2, {d12, d10}));  // a stage is not in delivery order
    merge.apply(base + 2, {d11});
    merge.apply(base + 3, {d11});
    merge.apply(base + 3, {d10, d12});
    merge.apply(base + 4, {d12});
    merge.apply(base + 4, {d11, d10});
    merge.apply(base + 5, {d10, d12, d10});  // one delivery staged twice: the same values, no conflict
    merge.apply(base + 5, {d11});
    for (long long e = base + 1; e <= base + 5; ++e) BOOST_TEST(merge.row(e) == expected, "event " << e);
}

// Each key of extra is merged on its own, like a column: it keeps the value of the highest delivery
// that gave the key, whichever deliveries came before or after with other keys, and a null (a
// missing column value, or a key sent as null) never erases a known value.
BOOST_AUTO_TEST_CASE(extra_keys_and_nulls_merge_key_by_key_in_any_order) {
    EventsMerge merge;
    const std::vector<EventsMerge::Delivery> deliveries{
        {20, "twenty", "twenty", R"({"a": "20", "b": "20"})"},
        {21, "", "twenty-one", R"({"a": "21", "n": null})"},
        {22, "", "", R"({"b": "22", "c": null})"},
        {23, "", "", R"({"c": "23", "a": null, "b": null})"},
    };
    const std::string expected =
        R"((twenty,twenty-one,"{""a"": ""21"", ""b"": ""22"", ""c"": ""23"", ""n"": null}",23))";
    std::vector<std::size_t> order{0, 1, 2, 3};
    long long event = 915000200;
    do {
        ++event;
        for (std::size_t i : order) merge.apply(event, {deliveries[i]});
        BOOST_TEST(merge.row(event) == expected, "order " << order[0] << order[1] << order[2] << order[3]);
        BOOST_TEST(merge.row(event, "name_delivery_id, city_delivery_id, extra_delivery_ids") ==
                       R"((20,21,"{""a"": 21, ""b"": 22, ""c"": 23}"))",
                   "order " << order[0] << order[1] << order[2] << order[3]);
    } while (std::next_permutation(order.begin(), order.end()));
}

BOOST_AUTO_TEST_SUITE_END()
