#pragma once

// The spool's file format: the frame around each record, the record's encoding (Spool::encode),
// and a reader that finds the valid frames of a damaged file. Private to src/spool.
#include "esr/spool/file_system.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace esr::spool {

using Clock = std::chrono::system_clock;

struct Frame {
    std::uint64_t size = 0;  // on disk, framing included
    std::string payload;
    Clock::time_point spooled_at;
};

/// A frame holding `payload`, as appended to spool.log.
std::string frame_v2(std::string_view payload, Clock::time_point spooled_at);

/// 20240607T101112.345Z: sorts by time, and no ':' to trouble file names.
std::string utc_stamp(Clock::time_point t);

/// Reads frames of one file at given offsets, and finds where the next one could start.
class FrameReader {
public:
    FrameReader(FileSystem& fs, std::filesystem::path file, std::uint64_t max_payload)
        : fs_(fs), file_(std::move(file)), max_payload_(max_payload), size_(fs_.size(file_)) {}

    std::uint64_t size() const { return size_; }

    /// The frame at `offset`, or why there is none. Never reads (or allocates) more than a
    /// frame of max_payload could take, whatever the length field says.
    std::optional<Frame> at(std::uint64_t offset, std::string& why);

    /// The first offset from `from` on where a frame's magic stands, or the end of the file.
    std::uint64_t next_candidate(std::uint64_t from);

private:
    static std::optional<Frame> torn(std::string& why) { return bad(why, "short tail"); }
    static std::optional<Frame> bad(std::string& why, const char* what) {
        why = what;
        return std::nullopt;
    }

    FileSystem& fs_;
    std::filesystem::path file_;
    std::uint64_t max_payload_;
    std::uint64_t size_;
    std::optional<Clock::time_point> modified_;
};

struct Damage {
    std::uint64_t begin = 0, end = 0;
    std::string why;
};

/// Walks `reader`'s file: each valid frame to `each` (with its offset) until it returns false,
/// each stretch of damage between valid frames to `damaged`. Returns false if `each` stopped it.
bool scan(FrameReader& reader, const std::function<bool(std::uint64_t, Frame&)>& each,
          const std::function<void(const Damage&)>& damaged);

}  // namespace esr::spool
