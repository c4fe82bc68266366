#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace esr::http {

struct Url {
    bool tls = false;
    std::string host;
    std::string port;
    std::string path;  // with the query, "/" at least
    std::string origin() const;  // scheme://host:port
};

/// "http://host[:port]/path" or "https://...". Throws std::invalid_argument saying what is wrong.
Url parse_url(const std::string& text);

/// No answer: name resolution, connection, TLS (with the reason, e.g. an unknown issuer) or a
/// timeout. An HTTP error status is an answer, not this.
class ClientError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct ClientReply {
    unsigned status = 0;
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;
    std::string header(const std::string& name) const;
};

struct ClientOptions {
    std::optional<std::string> ca_file;  // trusted as well as the system's store
    std::chrono::milliseconds timeout{30'000};
};

/// A small blocking HTTP/1.1 client over one keep-alive connection per origin. HTTPS verifies the
/// certificate chain and the host name, against the system's store and the optional CA file.
class Client {
public:
    explicit Client(ClientOptions options = {});
    ~Client();
    ClientReply request(const std::string& method, const Url& url,
                        const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace esr::http
