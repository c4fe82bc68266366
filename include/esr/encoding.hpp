#pragma once

// Digests and text encodings shared by authentication, the spool, the store and `simulate`.
#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace esr {

using Sha256 = std::array<unsigned char, 32>;

Sha256 sha256(std::string_view bytes);

/// Lower-case hexadecimal, two digits per byte.
std::string to_hex(std::span<const unsigned char> bytes);

std::string encode_base64(std::string_view bytes);

/// Strict base64 (RFC 4648, padded): nothing on bad length, bad characters or misplaced '='.
std::optional<std::string> decode_base64(std::string_view text);

}  // namespace esr
