#pragma once

#include "esr/encoding.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace esr {

struct Config;

/// Checks the Authorization header EventsShop presents. Credentials are kept only as SHA-256
/// digests and compared in constant time, so neither timing nor a memory dump of this object
/// reveals them.
class Authenticator {
public:
    using Digest = Sha256;

    Authenticator(std::string basic_user, std::string_view basic_password,
                  const std::vector<std::string>& bearer_tokens);
    explicit Authenticator(const Config& config);

    /// The principal the header proves ("basic:<user>" or "bearer:<n>", n counting from 1 in the
    /// configured list), or nothing when the header is missing, malformed or wrong.
    std::optional<std::string> authenticate(std::string_view authorization) const;

private:
    std::string basic_user_;
    std::optional<Digest> basic_digest_;  // of "user:password"
    std::vector<Digest> bearer_digests_;
};

}  // namespace esr
