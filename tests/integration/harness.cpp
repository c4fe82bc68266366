#include "harness.hpp"

#include <pqxx/connection>
#include <pqxx/nontransaction>

#include <cstdlib>

#include "esr/encoding.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <openssl/evp.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace esr::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string fixture(const std::string& name) { return read_file(std::filesystem::path(ESR_FIXTURES_DIR) / name); }

std::string sha256_hex(const std::string& bytes) { return esr::to_hex(esr::sha256(bytes)); }

std::string basic_auth(const std::string& user, const std::string& password) {
    std::string raw = user + ":" + password;
    std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
    out.resize(static_cast<std::size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                                        reinterpret_cast<const unsigned char*>(raw.data()),
                                                        static_cast<int>(raw.size()))));
    return "Basic " + out;
}

bool make_test_certificates(const std::filesystem::path& dir, std::string* log) {
    return run({"/bin/sh", "-c",
                "cd '" + dir.string() + "' && "
                "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=Test CA' && "
                "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=localhost' && "
                "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext && "
                "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem "
                "-days 2 -extfile san.ext && chmod 644 server.key"},
               {}, log) == 0;
}

int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

TempDir::TempDir() {
    char templ[] = "/tmp/esr-test-XXXXXX";
    if (!::mkdtemp(templ)) throw std::runtime_error("mkdtemp failed");
    path = templ;
    std::filesystem::permissions(path, std::filesystem::perms(0755));
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
}

namespace {

std::vector<std::string> environment_with(const std::map<std::string, std::string>& overrides) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
        std::string entry = *e;
        if (entry.rfind("ESR_", 0) == 0) continue;  // the test decides every ESR_ setting
        if (overrides.count(entry.substr(0, entry.find('=')))) continue;
        env.push_back(entry);
    }
    for (const auto& [k, v] : overrides) env.push_back(k + "=" + v);
    return env;
}

int spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env, int out_fd) {
    auto env_strings = environment_with(env);
    std::vector<char*> args, envp;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    for (auto& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (out_fd >= 0) {
        posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&actions, out_fd, STDERR_FILENO);
    }
    pid_t pid = -1;
    int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
    return pid;
}

int decode_status(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

int wait_for(int pid, rusage* usage = nullptr) {
    int status = 0;
    while (::wait4(pid, &status, 0, usage) < 0 && errno == EINTR) {
    }
    return decode_status(status);
}

}  // namespace

int run(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env, std::string* output) {
    return run_measured(argv, env, output, nullptr);
}

int run_measured(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                 std::string* output, long* peak_rss_kib) {
    char templ[] = "/tmp/esr-run-XXXXXX";
    int fd = ::mkstemp(templ);
    // A child forked from this test process counts this process's pages in its peak RSS until it
    // execs (ru_maxrss keeps the highest mark), so the peak is taken by GNU time, a small parent.
    char rss_templ[] = "/tmp/esr-rss-XXXXXX";
    std::vector<std::string> command = argv;
    if (peak_rss_kib) {
        ::close(::mkstemp(rss_templ));
        command.insert(command.begin(), {"/usr/bin/time", "-f", "%M", "-o", rss_templ});
    }
    int pid = spawn(command, env, fd);
    rusage usage{};
    int status = wait_for(pid, &usage);
    if (peak_rss_kib) {
        // The last line: GNU time puts "Command exited with non-zero status N" before it.
        std::string report = read_file(rss_templ);
        while (!report.empty() && report.back() == '\n') report.pop_back();
        *peak_rss_kib = std::atol(report.substr(report.rfind('\n') + 1).c_str());
        ::unlink(rss_templ);
    }
    ::close(fd);
    if (output) *output = read_file(templ);
    ::unlink(templ);
    return status;
}

Postgres::Postgres(std::filesystem::path dir) : dir_(std::move(dir)) { start(); }

Postgres::~Postgres() { stop(); }

void Postgres::start() {
    std::string out;
    std::vector<std::string> argv{"/bin/bash", ESR_PG_SCRIPT, "start", dir_.string()};
    if (!durable_) argv.push_back("--fast");
    int status = run(argv, {}, &out);
    if (status != 0) throw std::runtime_error("scripts/pg.sh start failed: " + out);
    auto line_end = out.find_last_not_of("\n");
    auto line_start = out.rfind('\n', line_end);
    url_ = out.substr(line_start == std::string::npos ? 0 : line_start + 1, line_end - (line_start == std::string::npos ? 0 : line_start + 1) + 1);
}

void Postgres::stop() { run({"/bin/bash", ESR_PG_SCRIPT, "stop", dir_.string()}, {}, nullptr); }

std::string Postgres::query1(const std::string& sql) const {
    pqxx::connection c(url_);
    pqxx::nontransaction tx(c);
    auto r = tx.exec(sql);
    if (r.empty() || r[0][0].is_null()) return "NULL";
    return r[0][0].as<std::string>();
}

void Postgres::exec(const std::string& sql) const {
    pqxx::connection c(url_);
    pqxx::nontransaction tx(c);
    tx.exec(sql);
}

void Postgres::crash() { run({"/bin/bash", ESR_PG_SCRIPT, "kill", dir_.string()}, {}, nullptr); }

void Postgres::make_durable() {
    stop();
    durable_ = true;
    start();
}

Daemon::Daemon(std::vector<std::string> args, std::map<std::string, std::string> env, std::filesystem::path log,
               bool ours)
    : log_(std::move(log)) {
    if (ours) args.insert(args.begin(), ESR_DAEMON_PATH);
    int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    pid_ = spawn(args, env, fd);
    ::close(fd);
}

Daemon::~Daemon() {
    if (pid_ > 0 && running()) terminate();
}

bool Daemon::running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == 0) return true;
    exit_status_ = decode_status(status);
    pid_ = -1;
    return false;
}

std::optional<int> Daemon::wait_exit(std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (running()) {
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return exit_status_;
}

int Daemon::terminate() {
    if (pid_ <= 0) return exit_status_;  // already gone: never kill(-1, ...)
    ::kill(pid_, SIGTERM);
    int status = wait_for(pid_);
    pid_ = -1;
    return status;
}

void Daemon::kill_hard() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    wait_for(pid_);
    pid_ = -1;
}

std::string Daemon::log() const { return read_file(log_); }

std::string HttpResponse::header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
}

struct HttpClient::Impl {
    net::io_context ioc;
    net::ip::tcp::socket socket{ioc};
    beast::flat_buffer buffer;
};

namespace {
void set_receive_timeout(int fd, std::chrono::milliseconds t) {
    timeval tv{static_cast<time_t>(t.count() / 1000), static_cast<suseconds_t>((t.count() % 1000) * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}
}  // namespace

HttpClient::HttpClient(int port) : impl_(std::make_unique<Impl>()) {
    impl_->socket.connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    set_receive_timeout(impl_->socket.native_handle(), std::chrono::seconds(20));  // a hung test fails, not hangs
}

HttpClient::~HttpClient() = default;

HttpResponse HttpClient::request(const std::string& method, const std::string& target, const std::string& body,
                                 const std::map<std::string, std::string>& headers) {
    bhttp::request<bhttp::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(bhttp::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.insert(k, v);
    req.body() = body;
    if (!body.empty() || method == "POST") req.prepare_payload();
    bhttp::write(impl_->socket, req);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 << 20);
    bhttp::read(impl_->socket, impl_->buffer, parser);
    HttpResponse out;
    const auto& res = parser.get();
    out.status = res.result_int();
    for (const auto& f : res) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto& slot = out.headers[name];
        slot += (slot.empty() ? "" : ", ") + std::string(f.value());
    }
    out.body = res.body();
    return out;
}

bool HttpClient::closed_by_server(std::chrono::milliseconds wait) {
    pollfd p{impl_->socket.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
    char c;
    return ::recv(p.fd, &c, 1, MSG_PEEK) == 0;
}

RawConnection::RawConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        throw std::runtime_error("connect failed: " + std::string(std::strerror(errno)));
}

RawConnection::~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
}

void RawConnection::send(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return;  // the server may close early; the caller looks at what it answered
        sent += static_cast<std::size_t>(n);
    }
}

std::string RawConnection::receive_until(const std::string& marker, std::chrono::milliseconds wait) {
    std::string got;
    saw_close_ = false;
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (marker.empty() || got.find(marker) == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        char buf[65536];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) {
            saw_close_ = true;
            break;
        }
        got.append(buf, static_cast<std::size_t>(n));
    }
    return got;
}

std::string RawConnection::receive_until_close(std::chrono::milliseconds wait) { return receive_until("", wait); }

}  // namespace esr::test
