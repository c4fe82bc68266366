#pragma once

#include "esr/delivery.hpp"

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace esr::db {

/// A local, append-only file that keeps deliveries durable while PostgreSQL cannot take them.
///
/// Each record is framed by a magic number, its length and a CRC-32, and is fsync'd before the
/// caller hears back; concurrent appends share one fdatasync. A torn record at the tail (a crash
/// mid-write: never acknowledged) is detected and cut off on open. For draining, the file is
/// renamed to spool.draining and a new one started, so appends never wait for a drain; the
/// draining file is removed only once everything in it is committed, and a drain interrupted by a
/// crash starts over (the body hash makes the repeats duplicates).
class Spool {
public:
    struct Depth {
        std::uint64_t records = 0;
        std::uint64_t bytes = 0;
    };

    Spool(std::filesystem::path dir, std::uint64_t max_bytes);
    ~Spool();

    /// Appends and fsyncs on the spool's thread; `done(true)` once durable, `done(false)` when the
    /// spool is full or the disk failed.
    void append(const Delivery& delivery, std::function<void(bool durable)> done);

    /// The file to drain next (an unfinished one first), or nothing when the spool is empty.
    std::optional<std::filesystem::path> take_for_drain();
    /// Reads the records of `file` in order, until `each` returns false or the file ends.
    /// Returns false if `each` stopped it.
    static bool read(const std::filesystem::path& file, const std::function<bool(Delivery&&)>& each);
    /// Everything in the file taken for draining is committed: remove it.
    void finish_drain(const std::filesystem::path& file);

    Depth depth() const;

    /// The record bytes of one delivery, and back (for tests and the reader).
    static std::string encode(const Delivery& delivery);
    static std::optional<Delivery> decode(std::string_view payload);

private:
    void run_flusher();
    void open_for_append();

    std::filesystem::path dir_;
    std::uint64_t max_bytes_;
    int fd_ = -1;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    struct Pending {
        std::string frame;
        std::function<void(bool)> done;
    };
    std::vector<Pending> pending_;
    std::uint64_t pending_bytes_ = 0;
    Depth appended_;  // in spool.log
    Depth draining_;  // in spool.draining
    bool stopping_ = false;
    std::mutex file_mutex_;  // held while writing or rotating spool.log
    std::thread flusher_;
};

}  // namespace esr::db
