#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace esr::spool {

/// The file operations the spool needs, and nothing more, so that tests can put a simulated disk
/// (one that forgets what was not made durable, or fails on demand) under the real spool code.
/// Every operation throws std::system_error on failure; none retries or hides an error.
class FileSystem {
public:
    enum class OpenMode {
        append,    // create if missing, every write goes to the end
        truncate,  // create if missing, start empty
    };

    virtual ~FileSystem() = default;

    /// A handle for write/fdatasync/ftruncate/close.
    virtual int open(const std::filesystem::path& file, OpenMode mode) = 0;
    /// Writes all of `bytes` at the end, or throws (some of them may have been written).
    virtual void write(int handle, std::string_view bytes) = 0;
    virtual void fdatasync(int handle) = 0;
    virtual void ftruncate(int handle, std::uint64_t size) = 0;
    virtual void close(int handle) noexcept = 0;

    virtual void rename(const std::filesystem::path& from, const std::filesystem::path& to) = 0;
    virtual void unlink(const std::filesystem::path& file) = 0;
    /// Makes the directory's entries (creates, renames, unlinks) durable.
    virtual void fsync_directory(const std::filesystem::path& dir) = 0;
    /// True if it had to create the directory (or a parent of it).
    virtual bool create_directories(const std::filesystem::path& dir) = 0;

    virtual bool exists(const std::filesystem::path& file) = 0;
    virtual std::uint64_t size(const std::filesystem::path& file) = 0;
    virtual std::chrono::system_clock::time_point modified(const std::filesystem::path& file) = 0;
    /// Up to `length` bytes from `offset` (fewer at the end of the file).
    virtual std::string read(const std::filesystem::path& file, std::uint64_t offset, std::size_t length) = 0;
    /// The names (not paths) of the entries of `dir`.
    virtual std::vector<std::string> list(const std::filesystem::path& dir) = 0;
};

/// The real one: POSIX calls on the local file system.
FileSystem& posix_file_system();

}  // namespace esr::spool
