#pragma once

#include "esr/spool/file_system.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

namespace esr::test {

/// A disk in memory that remembers, per file and per directory, what is durable: a file's bytes
/// as of its last completed fdatasync, a directory's entries (creates, renames, unlinks) as of
/// its last fsync. power_cut() gives a new disk holding only that. Directories themselves count
/// as durable once created (the spool fsyncs the parent after creating one; this disk does not
/// check that). Thread-safe: the spool's flusher and the test's threads use it at once.
class SimulatedDisk final : public spool::FileSystem {
public:
    enum class Op { open, write, fdatasync, ftruncate, fsync_directory, rename, unlink };

    /// The next `times` calls of `op` fail with EIO. A failing write writes half its bytes first,
    /// as a real short write followed by an error would.
    void fail_next(Op op, int times = 1);
    /// fdatasync reports success and makes nothing durable: a spool that skipped the call.
    void skip_fdatasync(bool skip);
    /// Mutating operations (open, write, fdatasync, ftruncate, rename, unlink, directory fsync)
    /// are numbered from 1; just before number `n` runs, the power is cut: what is durable then
    /// is what power_cut() returns. The disk goes on working (the spool under test does not know).
    void cut_power_before(std::uint64_t n);
    bool power_was_cut() const;
    /// The durable state at the cut (or now, if there was no cut). With `seed`, each file also
    /// keeps a random part of what was appended after its last fdatasync, as real disks may.
    std::unique_ptr<SimulatedDisk> power_cut(std::optional<std::uint64_t> seed = std::nullopt) const;
    std::uint64_t mutations() const;
    /// The largest `length` a read asked for.
    std::size_t largest_read() const;

    /// For tests to look at and damage files: not counted, not faulted, and durable at once.
    std::string contents(const std::filesystem::path& file) const;
    void set_contents(const std::filesystem::path& file, const std::string& bytes);
    std::vector<std::string> names(const std::filesystem::path& dir) const;

    int open(const std::filesystem::path& file, OpenMode mode) override;
    void write(int handle, std::string_view bytes) override;
    void fdatasync(int handle) override;
    void ftruncate(int handle, std::uint64_t size) override;
    void close(int handle) noexcept override;
    void rename(const std::filesystem::path& from, const std::filesystem::path& to) override;
    void unlink(const std::filesystem::path& file) override;
    void fsync_directory(const std::filesystem::path& dir) override;
    bool create_directories(const std::filesystem::path& dir) override;
    bool exists(const std::filesystem::path& file) override;
    std::uint64_t size(const std::filesystem::path& file) override;
    std::chrono::system_clock::time_point modified(const std::filesystem::path& file) override;
    std::string read(const std::filesystem::path& file, std::uint64_t offset, std::size_t length) override;
    std::vector<std::string> list(const std::filesystem::path& dir) override;

private:
    struct Inode {
        std::string data;     // what a read sees
        std::string durable;  // what survives a power cut
        std::chrono::system_clock::time_point modified;
    };
    using Entries = std::map<std::string, std::shared_ptr<Inode>>;
    // Per directory: file name -> durable bytes and bytes as written, for a power-cut image.
    using Image = std::map<std::filesystem::path, std::map<std::string, std::pair<std::string, std::string>>>;

    void mutation(Op op);  // counts, cuts the power when due, fails when told to
    Image image() const;
    std::shared_ptr<Inode>& entry(const std::filesystem::path& file);
    std::shared_ptr<Inode> find(const std::filesystem::path& file) const;
    Entries& directory(const std::filesystem::path& dir);

    mutable std::mutex mutex_;
    std::map<std::filesystem::path, Entries> live_, durable_;
    std::map<int, std::shared_ptr<Inode>> handles_;
    int next_handle_ = 100;
    std::map<Op, int> failures_;
    bool skip_fdatasync_ = false;
    std::uint64_t mutations_ = 0;
    std::optional<std::uint64_t> cut_before_;
    std::optional<Image> at_cut_;
    std::size_t largest_read_ = 0;
};

}  // namespace esr::test
