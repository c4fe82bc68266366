#include "esr/auth.hpp"
#include "esr/encoding.hpp"

#include <boost/test/unit_test.hpp>

using esr::Authenticator;
using esr::decode_base64;

namespace {

unsigned byte_at(const std::string& s, std::size_t i) { return static_cast<unsigned char>(s[i]); }

std::string encode(const std::string& raw) {
    static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < raw.size(); i += 3) {
        unsigned v = byte_at(raw, i) << 16 | byte_at(raw, i + 1) << 8 | byte_at(raw, i + 2);
        for (int s = 18; s >= 0; s -= 6) out += alphabet[(v >> s) & 63];
    }
    if (raw.size() - i == 1) {
        unsigned v = byte_at(raw, i) << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += "==";
    } else if (raw.size() - i == 2) {
        unsigned v = byte_at(raw, i) << 16 | byte_at(raw, i + 1) << 8;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

std::string basic(const std::string& user_password) { return "Basic " + encode(user_password); }

const Authenticator both("eventsshop", "pa:ss wörd", {"token-one", "token-two"});

}  // namespace

BOOST_AUTO_TEST_SUITE(base64)

BOOST_AUTO_TEST_CASE(decodes_every_padding_length) {
    BOOST_TEST(*decode_base64("YQ==") == "a");
    BOOST_TEST(*decode_base64("YWI=") == "ab");
    BOOST_TEST(*decode_base64("YWJj") == "abc");
    BOOST_TEST(*decode_base64(encode(std::string("a\0b", 3))) == std::string("a\0b", 3));
}

BOOST_AUTO_TEST_CASE(rejects_malformed_input) {
    BOOST_TEST(!decode_base64(""));
    BOOST_TEST(!decode_base64("YQ"));        // unpadded
    BOOST_TEST(!decode_base64("Y*==") );     // bad character
    BOOST_TEST(!decode_base64("Y=Q="));      // '=' in the middle
    BOOST_TEST(!decode_base64("YWJj YWJj")); // space inside
    BOOST_TEST(!decode_base64("===="));
}

// FIPS 180-2's examples, and a body longer than a block: the digest keys deduplication.
BOOST_AUTO_TEST_CASE(sha256_gives_the_standard_digests) {
    BOOST_TEST(esr::to_hex(esr::sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    BOOST_TEST(esr::to_hex(esr::sha256("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    BOOST_TEST(esr::to_hex(esr::sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
               "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    BOOST_TEST(esr::to_hex(esr::sha256(std::string(1000000, 'a'))) ==
               "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(authenticator)

BOOST_AUTO_TEST_CASE(basic_accepts_the_configured_pair_with_colon_and_utf8_in_the_password) {
    BOOST_TEST(*both.authenticate(basic("eventsshop:pa:ss wörd")) == "basic:eventsshop");
}

BOOST_AUTO_TEST_CASE(scheme_is_case_insensitive_and_spaces_are_tolerated) {
    BOOST_TEST(both.authenticate("basic " + encode("eventsshop:pa:ss wörd")).has_value());
    BOOST_TEST(both.authenticate("BASIC   " + encode("eventsshop:pa:ss wörd") + "  ").has_value());
    BOOST_TEST(*both.authenticate("bearer token-two") == "bearer:2");
    BOOST_TEST(*both.authenticate("BEARER token-one") == "bearer:1");
}

BOOST_AUTO_TEST_CASE(basic_rejects_wrong_or_malformed_credentials) {
    BOOST_TEST(!both.authenticate(basic("eventsshop:wrong")));
    BOOST_TEST(!both.authenticate(basic("other:pa:ss wörd")));
    BOOST_TEST(!both.authenticate(basic("eventsshop")));           // no colon
    BOOST_TEST(!both.authenticate(basic(":pa:ss wörd")));          // empty user
    BOOST_TEST(!both.authenticate("Basic not*base64"));
    BOOST_TEST(!both.authenticate("Basic " + encode("eventsshop:pa:ss wörd").substr(1)));
    BOOST_TEST(!both.authenticate("Basic"));
    BOOST_TEST(!both.authenticate("Basic "));
    BOOST_TEST(!both.authenticate(""));
}

BOOST_AUTO_TEST_CASE(wrong_scheme_is_rejected) {
    BOOST_TEST(!both.authenticate("Digest " + encode("eventsshop:pa:ss wörd")));
    BOOST_TEST(!both.authenticate("Token token-one"));
    BOOST_TEST(!both.authenticate("token-one"));
    // A Basic pair sent as a Bearer token, and a token sent as Basic, are not accepted.
    BOOST_TEST(!both.authenticate("Bearer " + encode("eventsshop:pa:ss wörd")));
    BOOST_TEST(!both.authenticate("Basic " + encode("token-one")));
}

BOOST_AUTO_TEST_CASE(bearer_needs_the_whole_token) {
    BOOST_TEST(!both.authenticate("Bearer token-on"));   // a prefix of a valid token
    BOOST_TEST(!both.authenticate("Bearer token-one2")); // a valid token as a prefix
    BOOST_TEST(!both.authenticate("Bearer "));
    BOOST_TEST(!both.authenticate("Bearer token one"));
}

BOOST_AUTO_TEST_CASE(an_unconfigured_scheme_accepts_nothing) {
    Authenticator bearer_only("", "", {"t"});
    BOOST_TEST(!bearer_only.authenticate(basic(":")));
    BOOST_TEST(!bearer_only.authenticate(basic("x:")));
    BOOST_TEST(*bearer_only.authenticate("Bearer t") == "bearer:1");
    Authenticator basic_only("u", "p", {});
    BOOST_TEST(!basic_only.authenticate("Bearer "));
    BOOST_TEST(!basic_only.authenticate("Bearer p"));
    BOOST_TEST(*basic_only.authenticate(basic("u:p")) == "basic:u");
}

BOOST_AUTO_TEST_SUITE_END()
