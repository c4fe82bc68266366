#pragma once

// Test harness: a throwaway PostgreSQL (scripts/pg.sh), the real daemon as a child process, and a
// small blocking HTTP client over real loopback sockets.

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace esr::test {

std::string read_file(const std::filesystem::path& path);
std::string fixture(const std::string& name);
std::string sha256_hex(const std::string& bytes);
int free_port();

/// A directory under /tmp (reachable by the postgres user), removed at the end.
struct TempDir {
    TempDir();
    ~TempDir();
    std::filesystem::path path;
};

/// Runs a command to completion; returns its exit status, with stdout+stderr in `output`.
int run(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env, std::string* output);
/// As run(), and the child's peak resident set size in KiB (wait4's ru_maxrss) in `peak_rss_kib`.
int run_measured(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                 std::string* output, long* peak_rss_kib);

class Postgres {
public:
    explicit Postgres(std::filesystem::path dir);
    ~Postgres();
    void start();
    void stop();
    /// Stops it as a crash would (pg_ctl -m immediate): what was not flushed is recovered from WAL.
    void crash();
    /// From now on it runs at PostgreSQL's durable defaults (fsync on, synchronous_commit on);
    /// restarts it if it runs. Tests start it with fsync off, which says nothing about durability.
    void make_durable();
    const std::string& url() const { return url_; }
    /// The first column of the first row of `sql`, as text ("NULL" for none), on a connection of its own.
    std::string query1(const std::string& sql) const;
    /// Runs `sql` outside a transaction block, on a connection of its own.
    void exec(const std::string& sql) const;

private:
    std::filesystem::path dir_;
    bool durable_ = false;
    std::string url_;
};

/// eventsshop-receiver run as a child process, stderr captured in a log file.
class Daemon {
public:
    /// `ours` false: `args` names another program (its path first), not eventsshop-receiver.
    Daemon(std::vector<std::string> args, std::map<std::string, std::string> env, std::filesystem::path log,
           bool ours = true);
    ~Daemon();
    /// Sends SIGTERM and returns the exit status.
    int terminate();
    /// SIGKILL: a crash, with no chance to clean up.
    void kill_hard();
    bool running();
    /// Waits up to `limit` for the process to exit by itself; its exit status, or nothing if it runs on.
    std::optional<int> wait_exit(std::chrono::milliseconds limit);
    std::string log() const;
    int pid() const { return pid_; }

private:
    int pid_ = -1;
    int exit_status_ = -1;
    std::filesystem::path log_;
};

struct HttpResponse {
    unsigned status = 0;
    std::map<std::string, std::string> headers;  // lower-case names; repeated ones joined by ", "
    std::string body;
    std::string header(const std::string& name) const;
};

/// One keep-alive connection to the daemon.
class HttpClient {
public:
    explicit HttpClient(int port);
    ~HttpClient();
    HttpResponse request(const std::string& method, const std::string& target, const std::string& body = "",
                         const std::map<std::string, std::string>& headers = {});
    /// True when the server has closed the connection (reads EOF within `wait`).
    bool closed_by_server(std::chrono::milliseconds wait = std::chrono::milliseconds(2000));

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// A raw socket, for requests no well-behaved client would send.
class RawConnection {
public:
    explicit RawConnection(int port);
    ~RawConnection();
    void send(const std::string& bytes);
    /// Everything the server sends until it closes or `wait` passes.
    std::string receive_until_close(std::chrono::milliseconds wait);
    /// Reads until `marker` has been seen (or `wait` passes).
    std::string receive_until(const std::string& marker, std::chrono::milliseconds wait);
    /// Whether the last receive ended because the server closed the connection.
    bool saw_close() const { return saw_close_; }

private:
    int fd_ = -1;
    bool saw_close_ = false;
};

std::string basic_auth(const std::string& user, const std::string& password);

/// A throwaway CA (ca.pem) and a certificate it signed for localhost and 127.0.0.1 (server.pem,
/// server.key) in `dir`, made with the openssl tool. Returns false (output in `log`) on failure.
bool make_test_certificates(const std::filesystem::path& dir, std::string* log);

}  // namespace esr::test
