#pragma once

// A stand-in for the EventsShop API: /authtoken and /endpoint/ as documented, answers scripted per
// path, every request recorded. Plain HTTP or TLS with a given certificate.

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace esr::test {

struct RecordedRequest {
    std::string method, path, authorization, body;
};

struct CannedReply {
    unsigned status = 200;
    std::string body;
    std::map<std::string, std::string> headers;
    std::chrono::milliseconds stall{0};  // wait this long before answering
};

struct TlsFiles {
    std::string certificate_chain;  // PEM paths
    std::string private_key;
};

class FakeEventsShop {
public:
    explicit FakeEventsShop(std::optional<TlsFiles> tls = std::nullopt);
    ~FakeEventsShop();

    std::string base_url() const;  // http://127.0.0.1:PORT or https://localhost:PORT
    /// Replies for `path`, used in order; after them, the documented success.
    void script(const std::string& path, std::vector<CannedReply> replies);
    std::vector<RecordedRequest> requests() const;
    std::vector<RecordedRequest> requests_to(const std::string& path) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace esr::test
