#include "frame.hpp"

#include "esr/spool/spool.hpp"

#include <boost/crc.hpp>

#include <cstring>
#include <ctime>

namespace esr::spool {
namespace {

// Frame v2: "ESR2", payload length (u64), spooled-at (i64 unix ms), CRC-32 of those 20 bytes,
// payload, CRC-32 of the payload. The header checksum lets a damaged length be recognised before
// anything is allocated or skipped on its word. Integers in host order: a spool never leaves its
// host. Frame v1 (still read, never written): "ESR1", payload length (u64), CRC-32 of the payload.
constexpr std::string_view magic_v1 = "ESR1";
constexpr std::string_view magic_v2 = "ESR2";
constexpr std::size_t v1_header = 4 + 8 + 4;
constexpr std::size_t v2_header = 4 + 8 + 8 + 4;
constexpr std::size_t v2_trailer = 4;
constexpr std::size_t resync_window = 64 * 1024;

std::uint32_t crc32(std::string_view bytes) {
    boost::crc_32_type crc;
    crc.process_bytes(bytes.data(), bytes.size());
    return crc.checksum();
}

template <class T>
void put(std::string& out, T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <class T>
bool get(std::string_view& in, T& v) {
    if (in.size() < sizeof v) return false;
    std::memcpy(&v, in.data(), sizeof v);
    in.remove_prefix(sizeof v);
    return true;
}

void put_bytes(std::string& out, std::string_view s) {
    put<std::uint64_t>(out, s.size());
    out.append(s);
}

bool get_bytes(std::string_view& in, std::string& s) {
    std::uint64_t n = 0;
    if (!get(in, n) || in.size() < n) return false;
    s.assign(in.data(), n);
    in.remove_prefix(n);
    return true;
}

std::int64_t unix_ms(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::string frame_v2(std::string_view payload, Clock::time_point spooled_at) {
    std::string f;
    f.reserve(v2_header + payload.size() + v2_trailer);
    f.append(magic_v2);
    put<std::uint64_t>(f, payload.size());
    put<std::int64_t>(f, unix_ms(spooled_at));
    put<std::uint32_t>(f, crc32(f));
    f.append(payload);
    put<std::uint32_t>(f, crc32(payload));
    return f;
}

std::string utc_stamp(Clock::time_point t) {
    auto ms = unix_ms(t);
    std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    ::gmtime_r(&seconds, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%S", &tm);
    char out[48];
    std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
    return out;
}

std::optional<Frame> FrameReader::at(std::uint64_t offset, std::string& why) {
    std::string header = fs_.read(file_, offset, v2_header);
    std::string_view h = header;
    if (h.size() < 4) return torn(why);
    std::string_view magic = h.substr(0, 4);
    if (magic == magic_v2) {
        if (h.size() < v2_header) return torn(why);
        std::string_view fields = h.substr(4);
        std::uint64_t length = 0;
        std::int64_t ms = 0;
        std::uint32_t header_crc = 0;
        get(fields, length);
        get(fields, ms);
        get(fields, header_crc);
        if (crc32(h.substr(0, v2_header - 4)) != header_crc) return bad(why, "bad header checksum");
        // Over the record limit and past the end of the file: a corrupted length. Over the limit
        // but within the file: a record spooled before --max-body-bytes was lowered, read as
        // any other (what is allocated is bounded by the file, and the payload CRC decides).
        if (length > max_payload_ && length > size_ - offset) return bad(why, "impossible length");
        if (size_ - offset < v2_header + length + v2_trailer) return torn(why);
        std::string payload = fs_.read(file_, offset + v2_header, static_cast<std::size_t>(length + v2_trailer));
        if (payload.size() < length + v2_trailer) return torn(why);
        std::string_view trailer = std::string_view(payload).substr(static_cast<std::size_t>(length));
        std::uint32_t payload_crc = 0;
        get(trailer, payload_crc);
        payload.resize(static_cast<std::size_t>(length));
        if (crc32(payload) != payload_crc) return bad(why, "bad payload checksum");
        return Frame{v2_header + length + v2_trailer, std::move(payload),
                     Clock::time_point(std::chrono::milliseconds(ms))};
    }
    if (magic == magic_v1) {
        if (h.size() < v1_header) return torn(why);
        std::string_view fields = h.substr(4);
        std::uint64_t length = 0;
        std::uint32_t payload_crc = 0;
        get(fields, length);
        get(fields, payload_crc);
        if (length > max_payload_ && length > size_ - offset) return bad(why, "impossible length");
        if (size_ - offset < v1_header + length) return torn(why);
        std::string payload = fs_.read(file_, offset + v1_header, static_cast<std::size_t>(length));
        if (payload.size() < length) return torn(why);
        if (crc32(payload) != payload_crc) return bad(why, "bad payload checksum");
        // A v1 frame does not say when it was spooled: the file's mtime is the best guess.
        if (!modified_) modified_ = fs_.modified(file_);
        return Frame{v1_header + length, std::move(payload), *modified_};
    }
    return bad(why, "bad magic");
}

std::uint64_t FrameReader::next_candidate(std::uint64_t from) {
    while (from < size_) {
        std::string chunk = fs_.read(file_, from, resync_window);
        if (chunk.size() < 4) break;
        std::string_view c = chunk;
        for (auto at = c.find("ESR"); at != std::string_view::npos && at + 4 <= c.size(); at = c.find("ESR", at + 1))
            if (c[at + 3] == magic_v1[3] || c[at + 3] == magic_v2[3]) return from + at;
        if (from + chunk.size() >= size_) break;
        from += chunk.size() - 3;  // a magic may straddle two windows
    }
    return size_;
}

/// Walks `reader`'s file: each valid frame to `each` (with its offset) until it returns false,
/// each stretch of damage between valid frames to `damaged`. Returns false if `each` stopped it.
bool scan(FrameReader& reader, const std::function<bool(std::uint64_t, Frame&)>& each,
          const std::function<void(const Damage&)>& damaged) {
    std::uint64_t offset = 0;
    std::optional<Damage> damage;
    while (offset < reader.size()) {
        std::string why;
        auto frame = reader.at(offset, why);
        if (frame) {
            if (damage) {
                damage->end = offset;
                damaged(*damage);
                damage.reset();
            }
            std::uint64_t next = offset + frame->size;
            if (!each(offset, *frame)) return false;
            offset = next;
        } else {
            if (!damage) damage = Damage{offset, 0, why};
            offset = reader.next_candidate(offset + 1);
        }
    }
    if (damage) {
        damage->end = reader.size();
        damaged(*damage);
    }
    return true;
}

std::string Spool::encode(const Delivery& d) {
    std::string out;
    put<std::uint8_t>(out, d.declared_kind ? static_cast<std::uint8_t>(*d.declared_kind) : 0xff);
    put_bytes(out, d.principal);
    put_bytes(out, d.remote_addr);
    put_bytes(out, d.path);
    put_bytes(out, d.body);
    return out;
}

std::optional<Delivery> Spool::decode(std::string_view in) {
    Delivery d;
    std::uint8_t kind = 0;
    if (!get(in, kind) || !get_bytes(in, d.principal) || !get_bytes(in, d.remote_addr) || !get_bytes(in, d.path) ||
        !get_bytes(in, d.body) || !in.empty())
        return std::nullopt;
    if (kind != 0xff) d.declared_kind = static_cast<Kind>(kind);
    return d;
}

}  // namespace esr::spool
