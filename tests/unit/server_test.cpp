// The server over real loopback sockets, with a fake sink and readiness probe: no PostgreSQL.
// What the integration suites check through the whole daemon (100-continue, the minimum body
// rate, keep-alive, the per-address limit), checked here on the HTTP layer alone. Every wait is
// bounded, so a broken server fails a test instead of hanging it.
#include "esr/config.hpp"
#include "esr/http/answers.hpp"
#include "esr/http/handler.hpp"
#include "esr/http/server.hpp"
#include "esr/metrics.hpp"

#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

using namespace esr;
using namespace esr::http;
using namespace std::chrono_literals;

namespace {

// Called on the network threads.
struct FakeSink : DeliverySink {
    std::size_t submitted() const {
        std::lock_guard lock(mutex);
        return count;
    }
    void submit(Delivery d, Callback done) override {
        {
            std::lock_guard lock(mutex);
            ++count;
        }
        done(StoreOutcome::stored(41, d.kind, static_cast<std::int64_t>(d.records.record_count())));
    }
    mutable std::mutex mutex;
    std::size_t count = 0;
};

struct FakeReadiness : ReadinessProbe {
    std::string not_ready_reason() const override { return {}; }
};

/// A client socket whose every read is bounded by a deadline.
class Connection {
public:
    explicit Connection(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        if (fd_ < 0) throw std::runtime_error("socket failed");
        timeval send_timeout{5, 0};  // a server that stops reading cannot block a send for long
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(fd_);
            throw std::runtime_error("connect failed: " + std::string(std::strerror(errno)));
        }
    }
    ~Connection() { ::close(fd_); }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    void send(const std::string& bytes) {
        std::size_t sent = 0;
        while (sent < bytes.size()) {
            ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) return;  // the server may have closed; the test looks at what it answered
            sent += static_cast<std::size_t>(n);
        }
    }

    /// What arrives until `marker` has been seen, the server closes, or `wait` passes.
    std::string receive_until(const std::string& marker, std::chrono::milliseconds wait) {
        const auto deadline = std::chrono::steady_clock::now() + wait;
        while (marker.empty() || got_.find(marker) == std::string::npos) {
            if (!receive_some(deadline)) break;
        }
        return take(marker.empty() ? got_.size() : std::min(got_.size(), got_.find(marker) + marker.size()));
    }
    std::string receive_until_close(std::chrono::milliseconds wait) { return receive_until("", wait); }

    /// One whole response (header and Content-Length bytes of body), or what came within `wait`.
    std::string receive_response(std::chrono::milliseconds wait) {
        const auto deadline = std::chrono::steady_clock::now() + wait;
        std::size_t end = std::string::npos;
        while ((end = response_end()) == std::string::npos)
            if (!receive_some(deadline)) return take(got_.size());
        return take(end);
    }

    /// True when the server closes the connection within `wait`.
    bool closed_within(std::chrono::milliseconds wait) {
        const auto deadline = std::chrono::steady_clock::now() + wait;
        while (receive_some(deadline)) {
        }
        return saw_close_;
    }
    bool saw_close() const { return saw_close_; }

private:
    bool receive_some(std::chrono::steady_clock::time_point deadline) {
        if (saw_close_) return false;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
        char buf[16384];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) {
            saw_close_ = true;
            return false;
        }
        got_.append(buf, static_cast<std::size_t>(n));
        return true;
    }
    std::size_t response_end() const {
        auto header_end = got_.find("\r\n\r\n");
        if (header_end == std::string::npos) return std::string::npos;
        std::size_t length = 0;
        std::istringstream lines(got_.substr(0, header_end));
        for (std::string line; std::getline(lines, line);)
            if (line.rfind("Content-Length: ", 0) == 0) length = std::stoul(line.substr(16));
        auto end = header_end + 4 + length;
        return got_.size() >= end ? end : std::string::npos;
    }
    std::string take(std::size_t n) {
        std::string head = got_.substr(0, n);
        got_.erase(0, n);
        return head;
    }

    int fd_;
    std::string got_;  // received, not yet returned (the start of the next response, say)
    bool saw_close_ = false;
};

/// The value of the one sample `series` in a /metrics text, or -1 when absent.
double value_of(const std::string& text, const std::string& series) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
        if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
    return -1;
}

const std::string auth = "Authorization: Bearer tok\r\n";

struct Fixture {
    Config config;
    FakeSink sink;
    FakeReadiness readiness;
    Authenticator authenticator{"es", "pw", {"tok"}};
    Metrics metrics;
    std::unique_ptr<Handler> handler;
    std::unique_ptr<Server> server;  // after the handler: it goes first
    int port = 0;

    Fixture() { config.threads = 2; }

    /// Starts the server on 127.0.0.1 at a free port below the ephemeral range, so no client
    /// socket of this machine can be holding it.
    void start() {
        handler = std::make_unique<Handler>(config, authenticator, sink, readiness, metrics);
        std::mt19937 random(std::random_device{}());
        std::uniform_int_distribution<int> ports(20000, 32767);
        for (int attempt = 0; attempt < 50; ++attempt) {
            port = ports(random);
            config.listen = ListenAddress{"127.0.0.1", static_cast<std::uint16_t>(port)};
            server = std::make_unique<Server>(config, *handler);
            try {
                server->start();
                return;
            } catch (const ConfigError&) {  // taken: try another
                server.reset();
            }
        }
        BOOST_FAIL("no free port below 32768");
    }

    std::string scrape() const { return metrics.render({}); }
};

std::string status_line(const std::string& response) { return response.substr(0, response.find("\r\n")); }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(server, Fixture)

BOOST_AUTO_TEST_CASE(expect_100_continue_is_answered_before_the_body_then_the_delivery_is) {
    start();
    const std::string body = R"({"eventId": 1})";
    Connection c(port);
    c.send("POST /eventsinfo HTTP/1.1\r\nHost: x\r\n" + auth + "Expect: 100-continue\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n");
    auto interim = c.receive_until("\r\n\r\n", 5s);
    BOOST_TEST(interim.rfind("HTTP/1.1 100 Continue\r\n", 0) == 0u, interim);
    BOOST_TEST(sink.submitted() == 0u);  // nothing is stored before the body is sent
    c.send(body);
    auto final_answer = c.receive_response(5s);
    BOOST_TEST(status_line(final_answer) == "HTTP/1.1 202 Accepted", final_answer);
    BOOST_TEST(sink.submitted() == 1u);

    // Refused at its header: no 100, the refusal, and the connection ends.
    Connection denied(port);
    denied.send("POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\nExpect: 100-continue\r\n"
                "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n");
    auto refusal = denied.receive_until_close(5s);
    BOOST_TEST(refusal.rfind("HTTP/1.1 401", 0) == 0u, refusal);
    BOOST_TEST(denied.saw_close());
}

BOOST_AUTO_TEST_CASE(a_body_slower_than_the_minimum_rate_is_cut_with_408) {
    config.min_body_rate = 400;
    config.body_rate_grace = 1s;
    config.body_timeout = 30s;  // only the rate can cut the trickle within the test's bounds
    start();
    Connection c(port);
    c.send("POST / HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 2000\r\n\r\n{\"a\": \"");
    const auto began = std::chrono::steady_clock::now();
    std::string answer;
    // 10 bytes every 200 ms is 50 bytes a second, an eighth of the floor.
    while (answer.empty() && std::chrono::steady_clock::now() - began < 10s) {
        c.send(std::string(10, 'x'));
        answer = c.receive_until("\r\n\r\n", 200ms);
    }
    const auto took = std::chrono::steady_clock::now() - began;
    answer += c.receive_until_close(5s);
    BOOST_TEST(answer.rfind("HTTP/1.1 408", 0) == 0u, answer);
    BOOST_TEST(answer.find(answers::body_too_slow.code) != std::string::npos, answer);
    BOOST_TEST(c.saw_close());
    BOOST_TEST((took < 5s));  // cut after about 1.2 s, far inside the 30 s body timeout
    BOOST_TEST(sink.submitted() == 0u);
    // Counted under the route the session found for it when the header arrived.
    BOOST_TEST(value_of(scrape(), "eventsshop_http_requests_total{route=\"delivery\",code=\"408\"}") == 1);
}

BOOST_AUTO_TEST_CASE(keep_alive_answers_two_requests_on_one_connection_and_stays_open) {
    start();
    Connection c(port);
    c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    auto first = c.receive_response(5s);
    BOOST_TEST(status_line(first) == "HTTP/1.1 200 OK", first);
    const std::string body = R"({"eventId": 2})";
    c.send("POST /eventsinfo HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body);
    auto second = c.receive_response(5s);
    BOOST_TEST(status_line(second) == "HTTP/1.1 202 Accepted", second);
    BOOST_TEST(!c.closed_within(200ms));
    // /metrics reads the open connections from the server's registry when scraped.
    BOOST_TEST(value_of(scrape(), "eventsshop_connections_open") == 1);
    BOOST_TEST(value_of(scrape(), "eventsshop_http_requests_total{route=\"eventsinfo\",code=\"202\"}") == 1);
    BOOST_TEST(value_of(scrape(), "eventsshop_http_requests_total{route=\"healthz\",code=\"200\"}") == 1);
}

BOOST_AUTO_TEST_CASE(a_connection_past_the_per_address_limit_gets_the_catalogues_refusal) {
    config.max_connections_per_address = 2;
    start();
    auto healthy = [](Connection& c) {
        c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        return status_line(c.receive_response(5s)) == "HTTP/1.1 200 OK";
    };
    {
        Connection first(port), second(port);
        // Answered, so both are admitted before the third arrives.
        BOOST_TEST_REQUIRE(healthy(first));
        BOOST_TEST_REQUIRE(healthy(second));
        BOOST_TEST(value_of(scrape(), "eventsshop_connections_open") == 2);
        Connection third(port);
        auto answer = third.receive_until_close(5s);
        BOOST_TEST(answer.rfind("HTTP/1.1 " + std::to_string(answers::too_many_connections.status), 0) == 0u, answer);
        BOOST_TEST(answer.find(answers::too_many_connections.code) != std::string::npos, answer);
        BOOST_TEST(third.saw_close());
        BOOST_TEST(value_of(scrape(), "eventsshop_connections_refused_total") == 1);
        BOOST_TEST(value_of(scrape(), "eventsshop_connections_open") == 2);
    }
    // Closed: room again, once the server has seen them go.
    bool admitted = false;
    for (int i = 0; i < 50 && !admitted; ++i) {
        Connection again(port);
        admitted = healthy(again);
        if (!admitted) std::this_thread::sleep_for(100ms);
    }
    BOOST_TEST(admitted);
}

BOOST_AUTO_TEST_SUITE_END()
