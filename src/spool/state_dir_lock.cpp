#include "esr/spool/spool.hpp"

#include <cerrno>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace esr::spool {

StateDirLock::StateDirLock(const std::filesystem::path& state_dir) {
    std::filesystem::create_directories(state_dir);
    auto file = state_dir / "lock";
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "cannot open " + file.string());
    // flock belongs to the open file description: a second open of the file conflicts even in
    // the same process. The kernel drops it when the process dies, so a crash leaves no stale lock.
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        int error = errno;
        char buf[32] = {};
        ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
        std::string pid;
        for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) pid += buf[i];
        ::close(fd_);
        fd_ = -1;
        if (error == EWOULDBLOCK)
            throw StateDirInUse("--state-dir " + state_dir.string() + " is in use by another eventsshop-receiver (pid " +
                                (pid.empty() ? "unknown" : pid) + ")");
        throw std::system_error(error, std::generic_category(), "cannot lock " + file.string());
    }
    // Only for the message above, so best effort. The file is never removed: a process about to
    // lock the old inode would otherwise hold a lock nobody else sees.
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
    }
}

StateDirLock::~StateDirLock() {
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace esr::spool
