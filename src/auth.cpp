#include "esr/auth.hpp"

#include "esr/config.hpp"
#include "esr/encoding.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>

namespace esr {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool same_digest(const Authenticator::Digest& a, const Authenticator::Digest& b) {
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

Authenticator::Authenticator(std::string basic_user, std::string_view basic_password,
                             const std::vector<std::string>& bearer_tokens)
    : basic_user_(std::move(basic_user)) {
    if (!basic_user_.empty()) basic_digest_ = sha256(basic_user_ + ":" + std::string(basic_password));
    for (const auto& t : bearer_tokens) bearer_digests_.push_back(sha256(t));
}

Authenticator::Authenticator(const Config& config)
    : Authenticator(config.basic_user, config.basic_password, config.bearer_tokens) {}

std::optional<std::string> Authenticator::authenticate(std::string_view header) const {
    header = trim(header);
    auto space = header.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    std::string_view scheme = header.substr(0, space);
    std::string_view credentials = trim(header.substr(space + 1));
    if (credentials.empty()) return std::nullopt;

    if (iequals(scheme, "Basic")) {
        if (!basic_digest_) return std::nullopt;
        auto decoded = decode_base64(credentials);
        if (!decoded) return std::nullopt;
        auto colon = decoded->find(':');
        if (colon == std::string::npos || colon == 0) return std::nullopt;
        // Hashing first makes the comparison constant-time whatever the lengths.
        if (!same_digest(sha256(*decoded), *basic_digest_)) return std::nullopt;
        return "basic:" + basic_user_;
    }
    if (iequals(scheme, "Bearer")) {
        Digest presented = sha256(credentials);
        std::size_t match = 0;
        for (std::size_t i = 0; i < bearer_digests_.size(); ++i) {
            // No early exit: every configured token is compared.
            if (same_digest(presented, bearer_digests_[i]) && match == 0) match = i + 1;
        }
        if (match == 0) return std::nullopt;
        return "bearer:" + std::to_string(match);
    }
    return std::nullopt;
}

}  // namespace esr
