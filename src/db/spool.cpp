#include "esr/db/spool.hpp"

#include "esr/log.hpp"

#include <boost/crc.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <fcntl.h>
#include <unistd.h>

namespace esr::db {
namespace {

constexpr std::uint32_t magic = 0x31525345;  // "ESR1"
constexpr std::size_t header_size = 4 + 8 + 4;  // magic, payload length, CRC-32 of the payload

std::uint32_t crc32(std::string_view bytes) {
    boost::crc_32_type crc;
    crc.process_bytes(bytes.data(), bytes.size());
    return crc.checksum();
}

template <class T>
void put(std::string& out, T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);  // host order: the spool never leaves the host
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

std::string frame(const std::string& payload) {
    std::string f;
    f.reserve(header_size + payload.size());
    put<std::uint32_t>(f, magic);
    put<std::uint64_t>(f, payload.size());
    put<std::uint32_t>(f, crc32(payload));
    f += payload;
    return f;
}

/// Walks the valid records of a file; returns the offset where the valid part ends.
std::uint64_t scan(const std::filesystem::path& file, const std::function<bool(std::string_view)>& each,
                   Spool::Depth* depth = nullptr) {
    std::ifstream in(file, std::ios::binary);
    std::uint64_t offset = 0;
    std::string header(header_size, '\0'), payload;
    while (in.read(header.data(), header_size)) {
        std::string_view h = header;
        std::uint32_t m = 0, crc = 0;
        std::uint64_t length = 0;
        get(h, m);
        get(h, length);
        get(h, crc);
        if (m != magic || length > (1ull << 40)) break;
        payload.resize(length);
        if (!in.read(payload.data(), static_cast<std::streamsize>(length))) break;
        if (crc32(payload) != crc) break;
        offset += header_size + length;
        if (depth) {
            ++depth->records;
            depth->bytes += header_size + length;
        }
        if (!each(payload)) break;
    }
    return offset;
}

void fsync_dir(const std::filesystem::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

}  // namespace

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
        !get_bytes(in, d.body))
        return std::nullopt;
    if (kind != 0xff) d.declared_kind = static_cast<Kind>(kind);
    return d;
}

Spool::Spool(std::filesystem::path dir, std::uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {
    std::filesystem::create_directories(dir_);
    auto log = dir_ / "spool.log";
    if (std::filesystem::exists(log)) {
        // A record torn by a crash was never acknowledged: cut it off.
        auto valid = scan(log, [](std::string_view) { return true; }, &appended_);
        if (valid < std::filesystem::file_size(log)) {
            log::warning("spool: discarding a torn record at the end",
                         {{"file", log.string()}, {"bytes", std::filesystem::file_size(log) - valid}});
            std::filesystem::resize_file(log, valid);
        }
    }
    auto draining = dir_ / "spool.draining";
    if (std::filesystem::exists(draining)) scan(draining, [](std::string_view) { return true; }, &draining_);
    open_for_append();
    flusher_ = std::thread([this] { run_flusher(); });
    if (appended_.records + draining_.records > 0)
        log::info("spool: deliveries waiting for the database",
                  {{"records", appended_.records + draining_.records}, {"dir", dir_.string()}});
}

Spool::~Spool() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (flusher_.joinable()) flusher_.join();
    if (fd_ >= 0) ::close(fd_);
}

void Spool::open_for_append() {
    fd_ = ::open((dir_ / "spool.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0) throw std::runtime_error("cannot open the spool in " + dir_.string() + ": " + std::strerror(errno));
    fsync_dir(dir_);
}

void Spool::append(const Delivery& delivery, std::function<void(bool)> done) {
    std::string f = frame(encode(delivery));
    {
        std::lock_guard lock(mutex_);
        if (!stopping_ && appended_.bytes + draining_.bytes + pending_bytes_ + f.size() <= max_bytes_) {
            pending_bytes_ += f.size();
            pending_.push_back({std::move(f), std::move(done)});
            wake_.notify_one();
            return;
        }
    }
    done(false);
}

void Spool::run_flusher() {
    for (;;) {
        std::vector<Pending> batch;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
            if (pending_.empty()) return;
            batch.swap(pending_);
        }
        // Group fsync: everything that queued meanwhile goes out with one fdatasync.
        bool ok = true;
        std::uint64_t bytes = 0;
        {
            std::lock_guard file_lock(file_mutex_);
            std::uint64_t valid_size = 0;
            {
                std::lock_guard lock(mutex_);
                valid_size = appended_.bytes;
            }
            for (const auto& p : batch) {
                const char* data = p.frame.data();
                std::size_t left = p.frame.size();
                while (ok && left > 0) {
                    ssize_t n = ::write(fd_, data, left);
                    if (n < 0 && errno == EINTR) continue;
                    if (n <= 0) ok = false;
                    else {
                        data += n;
                        left -= static_cast<std::size_t>(n);
                    }
                }
                bytes += p.frame.size();
            }
            if (ok && ::fdatasync(fd_) != 0) ok = false;
            if (!ok) {
                log::error("spool: write failed", {{"error", std::strerror(errno)}});
                // Leave no partial record in front of later ones.
                if (::ftruncate(fd_, static_cast<off_t>(valid_size)) != 0) log::error("spool: cannot truncate");
            }
        }
        {
            std::lock_guard lock(mutex_);
            pending_bytes_ -= bytes;
            if (ok) {
                appended_.records += batch.size();
                appended_.bytes += bytes;
            }
        }
        for (auto& p : batch) p.done(ok);
    }
}

std::optional<std::filesystem::path> Spool::take_for_drain() {
    auto draining = dir_ / "spool.draining";
    if (std::filesystem::exists(draining)) return draining;
    std::lock_guard file_lock(file_mutex_);
    std::lock_guard lock(mutex_);
    if (appended_.records == 0) return std::nullopt;
    ::close(fd_);
    std::filesystem::rename(dir_ / "spool.log", draining);
    draining_ = appended_;
    appended_ = {};
    open_for_append();
    return draining;
}

bool Spool::read(const std::filesystem::path& file, const std::function<bool(Delivery&&)>& each) {
    bool stopped = false;
    scan(file, [&](std::string_view payload) {
        auto d = decode(payload);
        if (!d) return true;  // framed and checksummed, yet not ours: skip it rather than block the rest
        if (each(std::move(*d))) return true;
        stopped = true;
        return false;
    });
    return !stopped;
}

void Spool::finish_drain(const std::filesystem::path& file) {
    std::filesystem::remove(file);
    fsync_dir(dir_);
    std::lock_guard lock(mutex_);
    draining_ = {};
}

Spool::Depth Spool::depth() const {
    std::lock_guard lock(mutex_);
    return {appended_.records + draining_.records, appended_.bytes + draining_.bytes};
}

}  // namespace esr::db
