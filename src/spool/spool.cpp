#include "esr/spool/spool.hpp"

#include "esr/encoding.hpp"
#include "esr/kind.hpp"
#include "esr/log.hpp"
#include "esr/spool/file_system.hpp"

#include "frame.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>

namespace esr::spool {
namespace {

// Room for the encoding around the body (kind, principal, remote address, path, and their lengths).
constexpr std::uint64_t encoding_overhead = 64 * 1024;
constexpr std::size_t copy_chunk = 1 << 20;

void add(Spool::Depth& depth, const Frame& frame) {
    ++depth.records;
    depth.bytes += frame.size;
    if (!depth.oldest || frame.spooled_at < *depth.oldest) depth.oldest = frame.spooled_at;
}

}  // namespace

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

    const std::string sha = to_hex(sha256(delivery.body));

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
