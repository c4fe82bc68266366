#include "esr/address.hpp"

#include <charconv>

#include <arpa/inet.h>

namespace esr {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::optional<std::array<unsigned char, 16>> parse_ip(std::string_view text) {
    std::string s(trim(text));
    if (s.size() > 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
    // An IPv6 zone ("fe80::1%eth0") names the host's interface, not the client: dropped, as
    // PostgreSQL's inet type (remote_addr) refuses it.
    if (auto zone = s.find('%'); zone != std::string::npos && s.find(':') != std::string::npos) s.resize(zone);
    std::array<unsigned char, 16> a{};
    unsigned char v4[4];
    if (inet_pton(AF_INET, s.c_str(), v4) == 1) {
        a[10] = a[11] = 0xff;  // ::ffff:a.b.c.d
        std::copy(v4, v4 + 4, a.begin() + 12);
        return a;
    }
    if (inet_pton(AF_INET6, s.c_str(), a.data()) == 1) return a;
    return std::nullopt;
}

bool all_digits(std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// One X-Forwarded-For entry: an address, or one with a port as some proxies write it
// ("203.0.113.9:4567", "[2001:db8::8]:443").
std::optional<std::array<unsigned char, 16>> parse_forwarded_entry(std::string_view text) {
    text = trim(text);
    if (text.starts_with('[')) {
        auto close = text.find(']');
        if (close != std::string_view::npos && close + 1 < text.size() && text[close + 1] == ':' &&
            all_digits(text.substr(close + 2)))
            return parse_ip(text.substr(0, close + 1));
    } else if (auto colon = text.find(':'); colon != std::string_view::npos && colon == text.rfind(':')) {
        // One colon: IPv4 with a port (an IPv6 address has at least two).
        if (!all_digits(text.substr(colon + 1))) return std::nullopt;
        return parse_ip(text.substr(0, colon));
    }
    return parse_ip(text);
}

bool is_mapped_v4(const std::array<unsigned char, 16>& a) {
    for (std::size_t i = 0; i < 10; ++i)
        if (a[i]) return false;
    return a[10] == 0xff && a[11] == 0xff;
}

std::string to_text(const std::array<unsigned char, 16>& a) {
    char buf[INET6_ADDRSTRLEN];
    if (is_mapped_v4(a)) return inet_ntop(AF_INET, a.data() + 12, buf, sizeof buf);
    return inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
}

}  // namespace

bool Cidr::contains(const std::array<unsigned char, 16>& a) const {
    unsigned bits = prefix;
    for (std::size_t i = 0; i < 16 && bits > 0; ++i) {
        unsigned char mask = bits >= 8 ? static_cast<unsigned char>(0xff) : static_cast<unsigned char>(0xff << (8 - bits));
        if ((a[i] & mask) != (address[i] & mask)) return false;
        bits = bits >= 8 ? bits - 8 : 0;
    }
    return true;
}

std::optional<Cidr> parse_cidr(std::string_view text) {
    text = trim(text);
    auto slash = text.find('/');
    auto ip = parse_ip(text.substr(0, slash));
    if (!ip) return std::nullopt;
    Cidr c;
    c.address = *ip;
    const bool v4 = is_mapped_v4(*ip) && text.substr(0, slash).find(':') == std::string_view::npos;
    if (slash == std::string_view::npos) return c;
    unsigned prefix = 0;
    auto bits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
    if (ec != std::errc{} || end != bits.data() + bits.size() || prefix > (v4 ? 32u : 128u)) return std::nullopt;
    c.prefix = v4 ? prefix + 96 : prefix;
    return c;
}

bool is_trusted(const std::string& address, const std::vector<Cidr>& blocks) {
    auto a = parse_ip(address);
    if (!a) return false;
    for (const auto& c : blocks)
        if (c.contains(*a)) return true;
    return false;
}

std::string client_address(const std::string& peer, std::string_view forwarded_for, const std::vector<Cidr>& trusted) {
    auto is_trusted = [&](const std::array<unsigned char, 16>& a) {
        for (const auto& c : trusted)
            if (c.contains(a)) return true;
        return false;
    };
    auto current = parse_ip(peer);
    if (!current) return {};  // not an address: unknown (NULL), never text the database refuses
    while (is_trusted(*current) && !forwarded_for.empty()) {
        auto comma = forwarded_for.rfind(',');
        auto hop = parse_forwarded_entry(comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1));
        if (!hop) break;  // garbage: trust nothing further to the left
        current = hop;
        forwarded_for = comma == std::string_view::npos ? std::string_view() : forwarded_for.substr(0, comma);
    }
    return to_text(*current);
}

}  // namespace esr
