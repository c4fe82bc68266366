#include "esr/spool/file_system.hpp"

#include <cerrno>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace esr::spool {
namespace {

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& file, int error = errno) {
    throw std::system_error(error, std::generic_category(), what + " " + file.string());
}

[[noreturn]] void fail(const std::string& what, int error = errno) {
    throw std::system_error(error, std::generic_category(), what);
}

class PosixFileSystem final : public FileSystem {
public:
    int open(const std::filesystem::path& file, OpenMode mode) override {
        int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (mode == OpenMode::append ? O_APPEND : O_TRUNC);
        for (;;) {
            int fd = ::open(file.c_str(), flags, 0600);
            if (fd >= 0) return fd;
            if (errno != EINTR) fail("cannot open", file);
        }
    }

    void write(int fd, std::string_view bytes) override {
        while (!bytes.empty()) {
            ssize_t n = ::write(fd, bytes.data(), bytes.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) fail("write");
            if (n == 0) fail("write", ENOSPC);
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    void fdatasync(int fd) override {
        if (::fdatasync(fd) != 0) fail("fdatasync");
    }

    void ftruncate(int fd, std::uint64_t size) override {
        if (::ftruncate(fd, static_cast<off_t>(size)) != 0) fail("ftruncate");
    }

    void close(int fd) noexcept override { ::close(fd); }

    void rename(const std::filesystem::path& from, const std::filesystem::path& to) override {
        if (::rename(from.c_str(), to.c_str()) != 0) fail("cannot rename " + from.string() + " to", to);
    }

    void unlink(const std::filesystem::path& file) override {
        if (::unlink(file.c_str()) != 0) fail("cannot remove", file);
    }

    void fsync_directory(const std::filesystem::path& dir) override {
        int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) fail("cannot open the directory", dir);
        int rc = ::fsync(fd);
        int error = errno;
        ::close(fd);
        if (rc != 0) fail("cannot fsync the directory", dir, error);
    }

    bool create_directories(const std::filesystem::path& dir) override {
        return std::filesystem::create_directories(dir);
    }

    bool exists(const std::filesystem::path& file) override {
        struct stat st {};
        if (::stat(file.c_str(), &st) == 0) return true;
        if (errno == ENOENT) return false;
        fail("cannot stat", file);
    }

    std::uint64_t size(const std::filesystem::path& file) override {
        struct stat st {};
        if (::stat(file.c_str(), &st) != 0) fail("cannot stat", file);
        return static_cast<std::uint64_t>(st.st_size);
    }

    std::chrono::system_clock::time_point modified(const std::filesystem::path& file) override {
        struct stat st {};
        if (::stat(file.c_str(), &st) != 0) fail("cannot stat", file);
        return std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(
                std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
    }

    std::string read(const std::filesystem::path& file, std::uint64_t offset, std::size_t length) override {
        int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) fail("cannot open", file);
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            int error = errno;
            ::close(fd);
            fail("cannot stat", file, error);
        }
        // Never allocate more than the file holds, whatever `length` says.
        auto file_size = static_cast<std::uint64_t>(st.st_size);
        std::size_t want = offset >= file_size ? 0 : static_cast<std::size_t>(std::min<std::uint64_t>(length, file_size - offset));
        std::string out(want, '\0');
        std::size_t got = 0;
        while (got < want) {
            ssize_t n = ::pread(fd, out.data() + got, want - got, static_cast<off_t>(offset + got));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                int error = errno;
                ::close(fd);
                fail("cannot read", file, error);
            }
            if (n == 0) break;
            got += static_cast<std::size_t>(n);
        }
        ::close(fd);
        out.resize(got);
        return out;
    }

    std::vector<std::string> list(const std::filesystem::path& dir) override {
        std::vector<std::string> names;
        for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename().string());
        return names;
    }
};

}  // namespace

FileSystem& posix_file_system() {
    static PosixFileSystem fs;
    return fs;
}

}  // namespace esr::spool
