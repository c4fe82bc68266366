#include "esr/log.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

namespace {

/// stderr goes to a pipe for the test's life, at level info (the tests' main quiets the log);
/// what was written is read back with drain().
class CapturedStderr {
public:
    CapturedStderr() {
        for (const char* level : {"debug", "info", "warning", "error"})
            if (previous_level_.empty() && esr::log::enabled(level_of(level))) previous_level_ = level;
        esr::log::set_level("info");
        BOOST_REQUIRE(::pipe(pipe_) == 0);
        saved_ = ::dup(STDERR_FILENO);
        ::dup2(pipe_[1], STDERR_FILENO);
        ::fcntl(pipe_[0], F_SETFL, O_NONBLOCK);
    }
    ~CapturedStderr() {
        esr::log::flush();
        ::dup2(saved_, STDERR_FILENO);
        esr::log::set_level(previous_level_.empty() ? "error" : previous_level_);
        for (int fd : {saved_, pipe_[0], pipe_[1]}) ::close(fd);
    }
    /// Fills the pipe, so the next write to stderr blocks until drain().
    void fill() {
        ::fcntl(STDERR_FILENO, F_SETFL, ::fcntl(STDERR_FILENO, F_GETFL) | O_NONBLOCK);
        char block[4096];
        std::memset(block, 'x', sizeof block);
        block[sizeof block - 1] = '\n';
        while (::write(STDERR_FILENO, block, sizeof block) > 0) {
        }
        ::fcntl(STDERR_FILENO, F_SETFL, ::fcntl(STDERR_FILENO, F_GETFL) & ~O_NONBLOCK);
    }
    std::string drain() {
        char buffer[65536];
        for (ssize_t n; (n = ::read(pipe_[0], buffer, sizeof buffer)) > 0;) read_.append(buffer, static_cast<std::size_t>(n));
        return read_;
    }

private:
    static esr::log::Level level_of(const std::string& name) {
        using L = esr::log::Level;
        return name == "debug" ? L::debug : name == "info" ? L::info : name == "warning" ? L::warning : L::error;
    }

    std::string previous_level_;
    int pipe_[2] = {-1, -1};
    int saved_ = -1;
    std::string read_;
};

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

void ignore(int) {}

}  // namespace

BOOST_AUTO_TEST_SUITE(logging)

BOOST_AUTO_TEST_CASE(kept_lines_come_out_at_a_flush_or_before_the_next_line_in_order) {
    CapturedStderr err;
    BOOST_TEST(esr::log::write_soon(esr::log::Level::info, "request", {{"n", 1}}));   // the first: flush soon
    BOOST_TEST(!esr::log::write_soon(esr::log::Level::info, "request", {{"n", 2}}));  // a flush is due already
    BOOST_TEST(err.drain().empty());
    esr::log::warning("something else");
    const std::string out = err.drain();
    BOOST_TEST(count(out, "\"msg\":\"request\"") == 2u);
    BOOST_TEST(out.find("\"n\":1") < out.find("\"n\":2"));
    BOOST_TEST(out.find("\"n\":2") < out.find("something else"));
    BOOST_TEST(esr::log::write_soon(esr::log::Level::info, "request", {{"n", 3}}));
    esr::log::flush();
    BOOST_TEST(count(err.drain(), "\"msg\":\"request\"") == 3u);
}

// From review: a write now carries every kept line, and a signal interrupting it (asio installs
// its handlers without SA_RESTART, and a blocked stderr is a full pipe or a stalled journald) made
// write(2) fail with EINTR: all of them were dropped ("0 of 100 lines").
BOOST_AUTO_TEST_CASE(a_signal_during_a_blocked_write_loses_no_kept_line) {
    struct sigaction handler {};
    handler.sa_handler = ignore;
    sigfillset(&handler.sa_mask);
    handler.sa_flags = 0;
    struct sigaction previous {};
    ::sigaction(SIGHUP, &handler, &previous);
    {
        CapturedStderr err;
        err.fill();
        std::thread writer([] {
            for (int i = 0; i < 100; ++i) esr::log::write_soon(esr::log::Level::info, "request", {{"i", i}});
            esr::log::flush();  // blocks: the pipe is full
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        ::pthread_kill(writer.native_handle(), SIGHUP);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        std::string out;
        for (int i = 0; i < 100 && count(out, "\"msg\":\"request\"") < 100; ++i) {
            out = err.drain();
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        writer.join();
        out = err.drain();
        BOOST_TEST(count(out, "\"msg\":\"request\"") == 100u);
    }
    ::sigaction(SIGHUP, &previous, nullptr);
}

BOOST_AUTO_TEST_SUITE_END()
