#pragma once

// Client addresses: trusted-proxy blocks, X-Forwarded-For, and the normal form stored in
// PostgreSQL's inet columns. Below HTTP, because the spool drain and the config need it too.

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace esr {

/// An address block such as 10.0.0.0/8 or fd00::/8. IPv4 is held as IPv4-mapped IPv6, so a
/// peer seen as ::ffff:10.1.2.3 matches 10.0.0.0/8.
struct Cidr {
    std::array<unsigned char, 16> address{};
    unsigned prefix = 128;
    bool contains(const std::array<unsigned char, 16>& a) const;
};

/// "10.0.0.0/8", "127.0.0.1" (a /32), "::1", "fd00::/8"; nothing when malformed.
std::optional<Cidr> parse_cidr(std::string_view text);

/// Whether `address` (as text) lies in one of `blocks`.
bool is_trusted(const std::string& address, const std::vector<Cidr>& blocks);

/// The client a request came from: the peer, unless the peer is a trusted proxy, in which case
/// X-Forwarded-For is read from the right, skipping trusted proxies, and the first address that is
/// not one is the client. A malformed entry ends the walk at the last address known good.
std::string client_address(const std::string& peer, std::string_view forwarded_for, const std::vector<Cidr>& trusted);

}  // namespace esr
