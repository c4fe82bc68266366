#include "esr/address.hpp"

#include <boost/test/unit_test.hpp>

using namespace esr;

namespace {
std::vector<Cidr> cidrs(std::initializer_list<const char*> texts) {
    std::vector<Cidr> out;
    for (auto t : texts) out.push_back(*parse_cidr(t));
    return out;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(address)

BOOST_AUTO_TEST_CASE(cidrs_parse_and_match) {
    BOOST_TEST(!parse_cidr("10.0.0.0/33"));
    BOOST_TEST(!parse_cidr("nowhere"));
    BOOST_TEST(!parse_cidr("10.0.0.0/x"));
    auto ten = *parse_cidr("10.0.0.0/8");
    BOOST_TEST(ten.prefix == 104u);
    BOOST_TEST(parse_cidr("fd00::/8")->prefix == 8u);
    BOOST_TEST(parse_cidr("::1")->prefix == 128u);
}

BOOST_AUTO_TEST_CASE(an_untrusted_peer_is_the_client_whatever_it_forwards) {
    BOOST_TEST(client_address("198.51.100.4", "203.0.113.9", cidrs({"10.0.0.0/8"})) == "198.51.100.4");
    BOOST_TEST(client_address("198.51.100.4", "203.0.113.9", {}) == "198.51.100.4");
}

BOOST_AUTO_TEST_CASE(a_trusted_proxy_names_the_client) {
    auto trusted = cidrs({"127.0.0.1", "10.0.0.0/8"});
    BOOST_TEST(client_address("127.0.0.1", "203.0.113.9", trusted) == "203.0.113.9");
    // Through two proxies of ours: the rightmost address that is not ours.
    BOOST_TEST(client_address("127.0.0.1", "198.51.100.1, 203.0.113.9, 10.1.2.3", trusted) == "203.0.113.9");
    // The client's own claim further left is not believed.
    BOOST_TEST(client_address("127.0.0.1", "1.2.3.4, 203.0.113.9", trusted) == "203.0.113.9");
    // No header: the proxy itself.
    BOOST_TEST(client_address("127.0.0.1", "", trusted) == "127.0.0.1");
    // Garbage stops the walk at the last good address.
    BOOST_TEST(client_address("127.0.0.1", "203.0.113.9, not-an-ip", trusted) == "127.0.0.1");
}

BOOST_AUTO_TEST_CASE(ipv6_and_mapped_addresses) {
    auto trusted = cidrs({"127.0.0.0/8", "::1"});
    BOOST_TEST(client_address("::ffff:127.0.0.1", "2001:db8::7", trusted) == "2001:db8::7");
    BOOST_TEST(client_address("::1", "[2001:db8::8]", trusted) == "2001:db8::8");
    BOOST_TEST(client_address("2001:db8::1", "203.0.113.9", trusted) == "2001:db8::1");
}

// A peer with an IPv6 zone got 500 on every delivery: PostgreSQL's inet refuses "fe80::1%eth0", and
// even the body alone could not be stored. The zone never reaches the database.
BOOST_AUTO_TEST_CASE(an_ipv6_zone_never_reaches_the_database) {
    auto trusted = cidrs({"fe80::/10"});
    BOOST_TEST(client_address("fe80::1%eth0", "", {}) == "fe80::1");
    BOOST_TEST(client_address("fe80::1%eth0", "2001:db8::9", trusted) == "2001:db8::9");
    BOOST_TEST(client_address("fe80::1", "fe80::2%lo", trusted) == "fe80::2");
    BOOST_TEST(client_address("not an address", "", {}) == "");
}

// Issue 13: an entry with a port fell back to the proxy's address.
BOOST_AUTO_TEST_CASE(entries_with_a_port_name_their_address) {
    auto trusted = cidrs({"127.0.0.1"});
    BOOST_TEST(client_address("127.0.0.1", "203.0.113.9:4567", trusted) == "203.0.113.9");
    BOOST_TEST(client_address("127.0.0.1", "[2001:db8::8]:443", trusted) == "2001:db8::8");
    BOOST_TEST(client_address("127.0.0.1", "198.51.100.1:80, 203.0.113.9:4567", trusted) == "203.0.113.9");
    // A bare IPv6 address is not an address and a port.
    BOOST_TEST(client_address("127.0.0.1", "2001:db8::1", trusted) == "2001:db8::1");
    BOOST_TEST(client_address("127.0.0.1", "203.0.113.9:port", trusted) == "127.0.0.1");
}

BOOST_AUTO_TEST_SUITE_END()
