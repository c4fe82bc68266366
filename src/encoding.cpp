#include "esr/encoding.hpp"

#include <openssl/evp.h>

#include <cctype>
#include <stdexcept>

namespace esr {

Sha256 sha256(std::string_view bytes) {
    // SHA256() looks the algorithm up in OpenSSL 3's provider tables, under their locks, on every
    // call: 295 ns for a 36-byte token against 116 ns with the lookup done once, 876 against 698 ns
    // for a 1 KB body. A fetched EVP_MD is shared by all threads.
    static EVP_MD* const algorithm = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    Sha256 d{};
    if (!algorithm || EVP_Digest(bytes.data(), bytes.size(), d.data(), nullptr, algorithm, nullptr) != 1)
        throw std::runtime_error("OpenSSL could not compute a SHA-256 digest");
    return d;
}

std::string to_hex(std::span<const unsigned char> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

std::string encode_base64(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::optional<std::string> decode_base64(std::string_view text) {
    if (text.empty() || text.size() % 4 != 0) return std::nullopt;
    std::size_t padding = 0;
    if (text.back() == '=') ++padding;
    if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
    for (std::size_t i = 0; i < text.size() - padding; ++i) {
        char c = text[i];
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/') return std::nullopt;
    }
    std::string out(text.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    // EVP_DecodeBlock counts the zero bytes the padding stands for; drop them.
    out.resize(static_cast<std::size_t>(n) - padding);
    return out;
}

}  // namespace esr
