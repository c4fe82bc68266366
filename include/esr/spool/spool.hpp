#pragma once

#include "esr/delivery.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace esr::spool {

class FileSystem;

/// Another process holds the state directory.
class StateDirInUse : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Held for the daemon's life: an exclusive flock on <state-dir>/lock, so that two daemons never
/// share one spool (one would rotate the file while the other appends to the unlinked inode).
/// A second holder, in this process or another, gets StateDirInUse.
class StateDirLock {
public:
    explicit StateDirLock(const std::filesystem::path& state_dir);
    ~StateDirLock();
    StateDirLock(const StateDirLock&) = delete;
    StateDirLock& operator=(const StateDirLock&) = delete;

private:
    int fd_ = -1;
};

/// A local, append-only store that keeps deliveries durable while PostgreSQL cannot take them.
///
/// A record acknowledged with done(true) was fdatasync'd and stays readable through crashes, power
/// loss and damage elsewhere in the file: frames carry a header checksum and a payload checksum,
/// and the reader resynchronises past damage instead of stopping there, copying the damaged bytes
/// to a corrupt-* file. For draining, spool.log is renamed to spool.draining and a new spool.log
/// started, so appends never wait for a drain; spool.draining goes only once it was read to its end
/// and the caller says it is done with it.
class Spool {
public:
    struct Options {
        std::filesystem::path dir;                 // <state-dir>/spool
        std::uint64_t max_bytes = 1ull << 30;      // total spool size limit
        std::uint64_t max_record_bytes = 256ull << 20;  // --max-body-bytes: longer frames are damage
        FileSystem* fs = nullptr;                  // nullptr: the real POSIX one
    };
    struct Depth {
        std::uint64_t records = 0;
        std::uint64_t bytes = 0;
        std::optional<std::chrono::system_clock::time_point> oldest;  // when the oldest waiting record was spooled
    };

    explicit Spool(Options options);
    ~Spool();  // flushes pending appends first
    Spool(const Spool&) = delete;
    Spool& operator=(const Spool&) = delete;

    /// Appends and fdatasyncs on the spool's thread; `done(true)` only once durable, `done(false)`
    /// when the spool is full, out of service, or the disk failed.
    void append(const Delivery& delivery, std::function<void(bool durable)> done);
    /// False once a failed write could not be cut back off: nothing is written after garbage.
    bool in_service() const;

    /// The file to drain next (an unfinished one first), or nothing when the spool is empty.
    /// Throws when rotation fails; appends then go on into the old spool.log.
    std::optional<std::filesystem::path> take_for_drain();
    /// Reads the records of `file` in order until `each` returns false. Damage does not end the
    /// read: the reader resynchronises to the next valid frame, copies the unreadable bytes to an
    /// fsync'd corrupt-<UTC time>-<n> file in the spool directory, logs and counts it, and goes on.
    /// Returns false if `each` stopped it. Throws if the damaged bytes cannot be saved.
    bool read(const std::filesystem::path& file, const std::function<bool(Delivery&&)>& each);
    /// Removes the drained file and fsyncs the directory; throws on failure, and if `file` was not
    /// read to its end since take_for_drain gave it out.
    void finish_drain(const std::filesystem::path& file);

    /// A delivery that cannot be stored: written to <dir>/../quarantine/<UTC time>-<sha256>.body
    /// and .json, both fsync'd, the directory too. The same body again overwrites. Throws on failure.
    void quarantine(const Delivery& delivery, const std::string& error);

    Depth depth() const;
    std::uint64_t quarantined() const;      // since start
    std::uint64_t corrupt_regions() const;  // since start: damage found by read() or at start-up

    /// The payload bytes of one delivery, and back.
    static std::string encode(const Delivery& delivery);
    static std::optional<Delivery> decode(std::string_view payload);

private:
    struct Pending {
        std::string frame;
        std::function<void(bool)> done;
        std::chrono::system_clock::time_point spooled_at;
    };
    struct Region {
        std::uint64_t begin = 0, end = 0;
        std::string why;
    };

    void run_flusher();
    void write_batch(std::vector<Pending>& batch);
    /// Counts the valid records of `file` into `depth` and saves its damage; with `keep_tail`,
    /// damage that runs to the end of the file is returned rather than saved.
    std::optional<Region> load(const std::filesystem::path& file, Depth& depth, bool keep_tail);
    void report_damage(const std::filesystem::path& file, const Region& region);
    std::filesystem::path save_corrupt(const std::filesystem::path& file, const Region& region);
    void rotate();
    void write_durably(const std::filesystem::path& file, std::string_view bytes);
    std::uint64_t max_payload() const;

    Options options_;
    FileSystem& fs_;
    std::filesystem::path log_path_, draining_path_;

    int fd_ = -1;               // spool.log, open for appending; guarded by file_mutex_
    std::uint64_t log_size_ = 0;  // spool.log's bytes up to the end of its last good frame; file_mutex_
    std::mutex file_mutex_;     // held while writing to or rotating spool.log

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::vector<Pending> pending_;
    std::uint64_t pending_bytes_ = 0;
    Depth appended_;  // in spool.log
    Depth draining_;  // in spool.draining
    bool draining_read_to_end_ = false;
    // Damage already counted and saved, by file and start offset, so a region found at start-up is
    // not saved again when the file is drained (spool.log's entries move along when it is renamed).
    std::map<std::filesystem::path, std::set<std::uint64_t>> reported_;
    std::uint64_t corrupt_regions_ = 0;
    std::uint64_t quarantined_ = 0;
    unsigned corrupt_serial_ = 0;
    std::chrono::steady_clock::time_point last_refusal_log_{};
    bool stopping_ = false;
    std::atomic<bool> in_service_{true};
    std::thread flusher_;
};

}  // namespace esr::spool
