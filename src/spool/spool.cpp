#include "esr/spool/spool.hpp"

#include "esr/kind.hpp"
#include "esr/log.hpp"
#include "esr/spool/file_system.hpp"

#include <boost/crc.hpp>
#include <boost/json/serialize.hpp>

#include <openssl/sha.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <system_error>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace esr::spool {
namespace {

using Clock = std::chrono::system_clock;

// Frame v2: "ESR2", payload length (u64), spooled-at (i64 unix ms), CRC-32 of those 20 bytes,
// payload, CRC-32 of the payload. The header checksum lets a damaged length be recognised before
// anything is allocated or skipped on its word. Integers in host order: a spool never leaves its
// host. Frame v1 (still read, never written): "ESR1", payload length (u64), CRC-32 of the payload.
constexpr std::string_view magic_v1 = "ESR1";
constexpr std::string_view magic_v2 = "ESR2";
constexpr std::size_t v1_header = 4 + 8 + 4;
constexpr std::size_t v2_header = 4 + 8 + 8 + 4;
constexpr std::size_t v2_trailer = 4;
// Room for the encoding around the body (kind, principal, remote address, path, and their lengths).
constexpr std::uint64_t encoding_overhead = 64 * 1024;
constexpr std::size_t resync_window = 64 * 1024;
constexpr std::size_t copy_chunk = 1 << 20;

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

/// 20240607T101112.345Z: sorts by time, and no ':' to trouble file names.
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

std::string hex(const unsigned char* bytes, std::size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out += digits[bytes[i] >> 4];
        out += digits[bytes[i] & 15];
    }
    return out;
}

struct Frame {
    std::uint64_t size = 0;  // on disk, framing included
    std::string payload;
    Clock::time_point spooled_at;
};

/// Reads frames of one file at given offsets, and finds where the next one could start.
class FrameReader {
public:
    FrameReader(FileSystem& fs, std::filesystem::path file, std::uint64_t max_payload)
        : fs_(fs), file_(std::move(file)), max_payload_(max_payload), size_(fs_.size(file_)) {}

    std::uint64_t size() const { return size_; }

    /// The frame at `offset`, or why there is none. Never reads (or allocates) more than a
    /// frame of max_payload could take, whatever the length field says.
    std::optional<Frame> at(std::uint64_t offset, std::string& why) {
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

    /// The first offset from `from` on where a frame's magic stands, or the end of the file.
    std::uint64_t next_candidate(std::uint64_t from) {
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

void add(Spool::Depth& depth, const Frame& frame) {
    ++depth.records;
    depth.bytes += frame.size;
    if (!depth.oldest || frame.spooled_at < *depth.oldest) depth.oldest = frame.spooled_at;
}

}  // namespace

// --- StateDirLock ---

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

// --- Spool ---

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

Spool::Spool(Options options)
    : options_(std::move(options)), fs_(options_.fs ? *options_.fs : posix_file_system()) {
    options_.dir = options_.dir.lexically_normal();
    if (!options_.dir.has_filename()) options_.dir = options_.dir.parent_path();  // a trailing '/'
    log_path_ = options_.dir / "spool.log";
    draining_path_ = options_.dir / "spool.draining";

    // A new directory's own entry must be durable too, or what goes into it is lost with it.
    if (fs_.create_directories(options_.dir)) fs_.fsync_directory(options_.dir.parent_path());
    if (fs_.exists(draining_path_)) load(draining_path_, draining_, false);

    fd_ = fs_.open(log_path_, FileSystem::OpenMode::append);
    try {
        fs_.fsync_directory(options_.dir);  // spool.log's entry, in case the open created it
        auto tail = load(log_path_, appended_, true);
        log_size_ = appended_.bytes;
        if (tail) {
            // Damage that runs to the end of spool.log and no valid frame after it: an append that
            // never completed, so never acknowledged. Kept in a corrupt file, then cut off, so new
            // records follow the last good one.
            bool saved = true;
            try {
                report_damage(log_path_, *tail);
            } catch (const std::exception& e) {
                // A full disk is when appends tear. Not saved, not cut: the bytes stay where they
                // are, new frames follow them, and every reader resynchronises past them.
                saved = false;
                log::error("spool: damaged tail left in place (it could not be saved elsewhere)",
                           {{"file", log_path_.string()}, {"offset", tail->begin}, {"error", e.what()}});
            }
            if (saved) {
                log_size_ = tail->begin;
                fs_.ftruncate(fd_, tail->begin);
                fs_.fdatasync(fd_);
                std::lock_guard lock(mutex_);
                reported_[log_path_].erase(tail->begin);  // those offsets will hold new records
            } else {
                log_size_ = fs_.size(log_path_);
            }
        } else {
            log_size_ = fs_.size(log_path_);
        }
    } catch (...) {
        fs_.close(fd_);
        throw;
    }
    flusher_ = std::thread([this] { run_flusher(); });
    if (appended_.records + draining_.records > 0)
        log::info("spool: deliveries waiting for the database",
                  {{"records", appended_.records + draining_.records}, {"dir", options_.dir.string()}});
}

Spool::~Spool() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (flusher_.joinable()) flusher_.join();
    if (fd_ >= 0) fs_.close(fd_);
}

std::uint64_t Spool::max_payload() const { return options_.max_record_bytes + encoding_overhead; }

std::optional<Spool::Region> Spool::load(const std::filesystem::path& file, Depth& depth, bool keep_tail) {
    FrameReader reader(fs_, file, max_payload());
    std::optional<Region> tail;
    // At start-up damage that cannot be saved elsewhere (a full disk) must not keep the daemon
    // down: the bytes stay where they are, and the drain's read() saves them once it can.
    auto note = [&](const Region& region) {
        try {
            report_damage(file, region);
        } catch (const std::exception& e) {
            log::error("spool: damaged bytes left in place for now (they could not be saved elsewhere)",
                       {{"file", file.string()}, {"offset", region.begin}, {"error", e.what()}});
        }
    };
    scan(
        reader,
        [&](std::uint64_t offset, Frame& frame) {
            if (decode(frame.payload)) add(depth, frame);
            else note({offset, offset + frame.size, "undecodable payload"});
            return true;
        },
        [&](const Damage& d) {
            if (keep_tail && d.end == reader.size()) tail = Region{d.begin, d.end, d.why};
            else note({d.begin, d.end, d.why});
        });
    return tail;
}

void Spool::report_damage(const std::filesystem::path& file, const Region& region) {
    {
        std::lock_guard lock(mutex_);
        if (!reported_[file].insert(region.begin).second) return;  // saved and counted already
    }
    std::filesystem::path saved;
    try {
        saved = save_corrupt(file, region);
    } catch (...) {
        std::lock_guard lock(mutex_);
        reported_[file].erase(region.begin);
        throw;
    }
    {
        std::lock_guard lock(mutex_);
        ++corrupt_regions_;
    }
    log::error("spool: damaged bytes skipped; the records around them are kept",
               {{"file", file.string()},
                {"offset", region.begin},
                {"end", region.end},
                {"bytes", region.end - region.begin},
                {"damage", region.why},
                {"saved_to", saved.string()}});
}

std::filesystem::path Spool::save_corrupt(const std::filesystem::path& file, const Region& region) {
    auto names = fs_.list(options_.dir);
    std::filesystem::path target;
    for (;;) {
        unsigned n;
        {
            std::lock_guard lock(mutex_);
            n = corrupt_serial_++;
        }
        std::string name = "corrupt-" + utc_stamp(Clock::now()) + "-" + std::to_string(n);
        if (std::find(names.begin(), names.end(), name) == names.end()) {
            target = options_.dir / name;
            break;
        }
    }
    int out = fs_.open(target, FileSystem::OpenMode::truncate);
    try {
        for (std::uint64_t at = region.begin; at < region.end;) {
            auto chunk = fs_.read(file, at, static_cast<std::size_t>(std::min<std::uint64_t>(copy_chunk, region.end - at)));
            if (chunk.empty()) break;
            fs_.write(out, chunk);
            at += chunk.size();
        }
        fs_.fdatasync(out);
    } catch (...) {
        fs_.close(out);
        throw;
    }
    fs_.close(out);
    fs_.fsync_directory(options_.dir);
    return target;
}

void Spool::append(const Delivery& delivery, std::function<void(bool)> done) {
    auto now = Clock::now();
    std::string payload = encode(delivery);
    if (payload.size() > max_payload()) {
        // The reader would take such a frame for damage: refuse it rather than acknowledge it.
        log::error("spool: a delivery larger than the spool's record limit was refused",
                   {{"bytes", payload.size()}, {"limit", max_payload()}});
        return done(false);
    }
    std::string f = frame_v2(payload, now);
    {
        std::lock_guard lock(mutex_);
        if (!in_service_) {
            auto steady = std::chrono::steady_clock::now();
            if (steady - last_refusal_log_ > std::chrono::seconds(10)) {
                last_refusal_log_ = steady;
                log::error("spool: out of service after a write that could not be cut back off; deliveries "
                           "refused until a restart",
                           {{"dir", options_.dir.string()}});
            }
        } else if (!stopping_ &&
                   appended_.bytes + draining_.bytes + pending_bytes_ + f.size() <= options_.max_bytes) {
            pending_bytes_ += f.size();
            pending_.push_back({std::move(f), std::move(done), now});
            wake_.notify_one();
            return;
        }
    }
    done(false);
}

bool Spool::in_service() const { return in_service_; }

void Spool::run_flusher() {
    for (;;) {
        std::vector<Pending> batch;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
            if (pending_.empty()) return;
            batch.swap(pending_);
        }
        write_batch(batch);
    }
}

void Spool::write_batch(std::vector<Pending>& batch) {
    // Group commit: everything that queued meanwhile goes out with one fdatasync.
    std::uint64_t bytes = 0;
    for (const auto& p : batch) bytes += p.frame.size();
    bool ok = false;
    {
        std::lock_guard file_lock(file_mutex_);
        if (in_service_) {
            try {
                for (const auto& p : batch) fs_.write(fd_, p.frame);
                fs_.fdatasync(fd_);
                log_size_ += bytes;
                ok = true;
            } catch (const std::exception& e) {
                log::error("spool: write failed; its deliveries are refused",
                           {{"error", e.what()}, {"deliveries", batch.size()}, {"file", log_path_.string()}});
                // Cut the partial frames off: later records must not follow garbage.
                try {
                    fs_.ftruncate(fd_, log_size_);
                    fs_.fdatasync(fd_);
                } catch (const std::exception& e2) {
                    in_service_ = false;
                    log::error("spool: out of service: a failed write could not be cut back off, so nothing more "
                               "is written after it",
                               {{"error", e2.what()}, {"file", log_path_.string()}});
                }
            }
        }
    }
    {
        std::lock_guard lock(mutex_);
        pending_bytes_ -= bytes;
        if (ok) {
            appended_.records += batch.size();
            appended_.bytes += bytes;
            if (!appended_.oldest) appended_.oldest = batch.front().spooled_at;
        }
    }
    for (auto& p : batch) p.done(ok);
}

std::optional<std::filesystem::path> Spool::take_for_drain() {
    std::lock_guard file_lock(file_mutex_);
    if (!fs_.exists(draining_path_)) {
        {
            std::lock_guard lock(mutex_);
            if (appended_.records == 0) return std::nullopt;
        }
        rotate();
    }
    std::lock_guard lock(mutex_);
    draining_read_to_end_ = false;
    return draining_path_;
}

void Spool::rotate() {
    const auto& dir = options_.dir;
    fs_.rename(log_path_, draining_path_);  // if this throws, nothing changed
    int fresh = -1;
    try {
        fs_.fsync_directory(dir);
        fresh = fs_.open(log_path_, FileSystem::OpenMode::append);
        // The new file's entry must be durable before an acknowledged record goes into it.
        fs_.fsync_directory(dir);
    } catch (const std::exception& e) {
        if (fresh >= 0) fs_.close(fresh);
        // Go on appending to the old file, under its old name: a file named spool.draining gets
        // drained and removed, so nothing may be appended to it.
        try {
            fs_.rename(draining_path_, log_path_);
            fs_.fsync_directory(dir);
        } catch (const std::exception& e2) {
            if (fs_.exists(draining_path_)) {
                in_service_ = false;
                std::lock_guard lock(mutex_);
                draining_ = appended_;
                appended_ = {};
                reported_[draining_path_] = std::move(reported_[log_path_]);
                reported_.erase(log_path_);
            }
            log::error("spool: rotation failed and could not be undone",
                       {{"error", e.what()}, {"undo_error", e2.what()}, {"in_service", in_service_.load()}});
        }
        throw;
    }
    // Only now let go of the old descriptor: fd_ never names a closed descriptor.
    int old = fd_;
    fd_ = fresh;
    log_size_ = 0;
    fs_.close(old);
    std::lock_guard lock(mutex_);
    draining_ = appended_;
    appended_ = {};
    reported_[draining_path_] = std::move(reported_[log_path_]);
    reported_.erase(log_path_);
}

bool Spool::read(const std::filesystem::path& file, const std::function<bool(Delivery&&)>& each) {
    FrameReader reader(fs_, file, max_payload());
    bool to_end = scan(
        reader,
        [&](std::uint64_t offset, Frame& frame) {
            auto d = decode(frame.payload);
            if (!d) {
                // Framed and checksummed, yet not a delivery: keep the bytes, skip the record.
                report_damage(file, {offset, offset + frame.size, "undecodable payload"});
                return true;
            }
            return each(std::move(*d));
        },
        [&](const Damage& d) { report_damage(file, {d.begin, d.end, d.why}); });
    if (to_end && file.lexically_normal() == draining_path_) {
        std::lock_guard lock(mutex_);
        draining_read_to_end_ = true;
    }
    return to_end;
}

void Spool::finish_drain(const std::filesystem::path& file) {
    {
        std::lock_guard lock(mutex_);
        if (file.lexically_normal() != draining_path_)
            throw std::invalid_argument("spool: " + file.string() + " is not the file taken for draining");
        // Removing a file not read to its end would drop what was not read.
        if (!draining_read_to_end_)
            throw std::logic_error("spool: " + file.string() + " was not read to its end; it stays");
    }
    fs_.unlink(file);
    {
        std::lock_guard lock(mutex_);
        draining_ = {};
        draining_read_to_end_ = false;
        reported_.erase(draining_path_);
    }
    fs_.fsync_directory(options_.dir);
}

void Spool::write_durably(const std::filesystem::path& file, std::string_view bytes) {
    // Written aside and renamed over: a crash leaves the old file or the whole new one.
    auto temporary = file;
    temporary += ".tmp";
    int fd = fs_.open(temporary, FileSystem::OpenMode::truncate);
    try {
        fs_.write(fd, bytes);
        fs_.fdatasync(fd);
    } catch (...) {
        fs_.close(fd);
        throw;
    }
    fs_.close(fd);
    fs_.rename(temporary, file);
}

void Spool::quarantine(const Delivery& delivery, const std::string& error) {
    auto dir = options_.dir.parent_path() / "quarantine";
    if (fs_.create_directories(dir)) fs_.fsync_directory(dir.parent_path());

    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(delivery.body.data()), delivery.body.size(), digest);
    std::string sha = hex(digest, sizeof digest);

    // The same body again reuses its first name, so quarantining is idempotent.
    auto now = Clock::now();
    std::string stem;
    std::string suffix = "-" + sha + ".body";
    for (const auto& name : fs_.list(dir))
        if (name.size() > suffix.size() && name.ends_with(suffix)) stem = name.substr(0, name.size() - 5);
    if (stem.empty()) stem = utc_stamp(now) + "-" + sha;

    boost::json::object meta{
        {"path", delivery.path},
        {"principal", delivery.principal},
        {"remote_addr", delivery.remote_addr},
        {"declared_kind", delivery.declared_kind ? boost::json::value(to_string(*delivery.declared_kind))
                                                 : boost::json::value(nullptr)},
        {"error", error},
        {"spooled_at", utc_stamp(now)},
        {"body_bytes", delivery.body.size()},
        {"body_sha256", sha},
    };
    write_durably(dir / (stem + ".body"), delivery.body);
    write_durably(dir / (stem + ".json"), boost::json::serialize(meta) + "\n");
    fs_.fsync_directory(dir);
    {
        std::lock_guard lock(mutex_);
        ++quarantined_;
    }
    log::error("spool: a delivery that cannot be stored was quarantined",
               {{"file", (dir / (stem + ".body")).string()}, {"error", error}});
}

Spool::Depth Spool::depth() const {
    std::lock_guard lock(mutex_);
    Depth d{appended_.records + draining_.records, appended_.bytes + draining_.bytes, appended_.oldest};
    if (draining_.oldest && (!d.oldest || *draining_.oldest < *d.oldest)) d.oldest = draining_.oldest;
    return d;
}

std::uint64_t Spool::quarantined() const {
    std::lock_guard lock(mutex_);
    return quarantined_;
}

std::uint64_t Spool::corrupt_regions() const {
    std::lock_guard lock(mutex_);
    return corrupt_regions_;
}

}  // namespace esr::spool
