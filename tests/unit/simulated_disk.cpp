#include "simulated_disk.hpp"

#include <cerrno>
#include <random>
#include <system_error>

namespace esr::test {
namespace {

std::filesystem::path normal(const std::filesystem::path& p) {
    auto n = p.lexically_normal();
    if (!n.has_filename() && n.has_parent_path()) n = n.parent_path();
    return n;
}

[[noreturn]] void fail(int error, const std::string& what) {
    throw std::system_error(error, std::generic_category(), "simulated disk: " + what);
}

}  // namespace

void SimulatedDisk::fail_next(Op op, int times) {
    std::lock_guard lock(mutex_);
    failures_[op] += times;
}

void SimulatedDisk::skip_fdatasync(bool skip) {
    std::lock_guard lock(mutex_);
    skip_fdatasync_ = skip;
}

void SimulatedDisk::cut_power_before(std::uint64_t n) {
    std::lock_guard lock(mutex_);
    cut_before_ = n;
}

bool SimulatedDisk::power_was_cut() const {
    std::lock_guard lock(mutex_);
    return at_cut_.has_value();
}

std::uint64_t SimulatedDisk::mutations() const {
    std::lock_guard lock(mutex_);
    return mutations_;
}

std::size_t SimulatedDisk::largest_read() const {
    std::lock_guard lock(mutex_);
    return largest_read_;
}

SimulatedDisk::Image SimulatedDisk::image() const {
    Image out;
    for (const auto& [dir, entries] : durable_) {
        auto& files = out[dir];
        for (const auto& [name, inode] : entries) files[name] = {inode->durable, inode->data};
    }
    return out;
}

std::unique_ptr<SimulatedDisk> SimulatedDisk::power_cut(std::optional<std::uint64_t> seed) const {
    Image img;
    {
        std::lock_guard lock(mutex_);
        img = at_cut_ ? *at_cut_ : image();
    }
    std::mt19937_64 random(seed.value_or(0));
    auto disk = std::make_unique<SimulatedDisk>();
    for (const auto& [dir, files] : img) {
        disk->live_[dir];
        disk->durable_[dir];
        for (const auto& [name, bytes] : files) {
            const auto& [durable, written] = bytes;
            auto inode = std::make_shared<Inode>();
            inode->data = durable;
            // Bytes appended since the last fdatasync may partly have reached the platter.
            if (seed && written.size() > durable.size() && written.compare(0, durable.size(), durable) == 0) {
                std::uniform_int_distribution<std::size_t> keep(0, written.size() - durable.size());
                inode->data = written.substr(0, durable.size() + keep(random));
            }
            inode->durable = inode->data;
            inode->modified = std::chrono::system_clock::now();
            disk->live_[dir][name] = inode;
            disk->durable_[dir][name] = inode;
        }
    }
    return disk;
}

void SimulatedDisk::mutation(Op op) {
    ++mutations_;
    if (cut_before_ && mutations_ == *cut_before_ && !at_cut_) at_cut_ = image();
    auto f = failures_.find(op);
    if (f != failures_.end() && f->second > 0) {
        --f->second;
        if (op != Op::write) fail(EIO, "injected failure");
        throw std::system_error(EIO, std::generic_category(), "simulated disk: injected write failure");
    }
}

SimulatedDisk::Entries& SimulatedDisk::directory(const std::filesystem::path& dir) {
    auto d = live_.find(normal(dir));
    if (d == live_.end()) fail(ENOENT, "no directory " + dir.string());
    return d->second;
}

std::shared_ptr<SimulatedDisk::Inode>& SimulatedDisk::entry(const std::filesystem::path& file) {
    auto p = normal(file);
    return directory(p.parent_path())[p.filename().string()];
}

std::shared_ptr<SimulatedDisk::Inode> SimulatedDisk::find(const std::filesystem::path& file) const {
    auto p = normal(file);
    auto d = live_.find(p.parent_path());
    if (d == live_.end()) return nullptr;
    auto e = d->second.find(p.filename().string());
    return e == d->second.end() ? nullptr : e->second;
}

std::string SimulatedDisk::contents(const std::filesystem::path& file) const {
    std::lock_guard lock(mutex_);
    auto inode = find(file);
    if (!inode) fail(ENOENT, file.string());
    return inode->data;
}

void SimulatedDisk::set_contents(const std::filesystem::path& file, const std::string& bytes) {
    std::lock_guard lock(mutex_);
    auto& inode = entry(file);
    if (!inode) inode = std::make_shared<Inode>();
    inode->data = inode->durable = bytes;
    inode->modified = std::chrono::system_clock::now();
    auto p = normal(file);
    durable_[p.parent_path()][p.filename().string()] = inode;
}

std::vector<std::string> SimulatedDisk::names(const std::filesystem::path& dir) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    auto d = live_.find(normal(dir));
    if (d != live_.end())
        for (const auto& [name, inode] : d->second) out.push_back(name);
    return out;
}

int SimulatedDisk::open(const std::filesystem::path& file, OpenMode mode) {
    std::lock_guard lock(mutex_);
    mutation(Op::open);
    auto& inode = entry(file);
    if (!inode) inode = std::make_shared<Inode>();  // a new entry: durable once the directory is fsync'd
    if (mode == OpenMode::truncate) inode->data.clear();
    inode->modified = std::chrono::system_clock::now();
    int handle = next_handle_++;
    handles_[handle] = inode;
    return handle;
}

void SimulatedDisk::write(int handle, std::string_view bytes) {
    std::lock_guard lock(mutex_);
    auto h = handles_.find(handle);
    if (h == handles_.end()) fail(EBADF, "write to a closed handle");
    try {
        mutation(Op::write);
    } catch (...) {
        h->second->data.append(bytes.substr(0, bytes.size() / 2));
        throw;
    }
    h->second->data.append(bytes);
    h->second->modified = std::chrono::system_clock::now();
}

void SimulatedDisk::fdatasync(int handle) {
    std::lock_guard lock(mutex_);
    auto h = handles_.find(handle);
    if (h == handles_.end()) fail(EBADF, "fdatasync of a closed handle");
    mutation(Op::fdatasync);
    if (!skip_fdatasync_) h->second->durable = h->second->data;
}

void SimulatedDisk::ftruncate(int handle, std::uint64_t size) {
    std::lock_guard lock(mutex_);
    auto h = handles_.find(handle);
    if (h == handles_.end()) fail(EBADF, "ftruncate of a closed handle");
    mutation(Op::ftruncate);
    h->second->data.resize(static_cast<std::size_t>(size));
}

void SimulatedDisk::close(int handle) noexcept {
    std::lock_guard lock(mutex_);
    handles_.erase(handle);
}

void SimulatedDisk::rename(const std::filesystem::path& from, const std::filesystem::path& to) {
    std::lock_guard lock(mutex_);
    mutation(Op::rename);
    auto inode = find(from);
    if (!inode) fail(ENOENT, "rename: no " + from.string());
    auto f = normal(from);
    directory(f.parent_path()).erase(f.filename().string());
    entry(to) = inode;
}

void SimulatedDisk::unlink(const std::filesystem::path& file) {
    std::lock_guard lock(mutex_);
    mutation(Op::unlink);
    auto f = normal(file);
    if (directory(f.parent_path()).erase(f.filename().string()) == 0) fail(ENOENT, "unlink: no " + file.string());
}

void SimulatedDisk::fsync_directory(const std::filesystem::path& dir) {
    std::lock_guard lock(mutex_);
    mutation(Op::fsync_directory);
    durable_[normal(dir)] = directory(dir);
}

bool SimulatedDisk::create_directories(const std::filesystem::path& dir) {
    std::lock_guard lock(mutex_);
    bool created = false;
    for (auto p = normal(dir); !p.empty(); p = p.parent_path()) {
        if (live_.emplace(p, Entries{}).second) created = true;
        durable_.emplace(p, Entries{});
        if (p == p.parent_path()) break;
    }
    return created;
}

bool SimulatedDisk::exists(const std::filesystem::path& file) {
    std::lock_guard lock(mutex_);
    return find(file) != nullptr || live_.count(normal(file)) > 0;
}

std::uint64_t SimulatedDisk::size(const std::filesystem::path& file) {
    std::lock_guard lock(mutex_);
    auto inode = find(file);
    if (!inode) fail(ENOENT, "size: no " + file.string());
    return inode->data.size();
}

std::chrono::system_clock::time_point SimulatedDisk::modified(const std::filesystem::path& file) {
    std::lock_guard lock(mutex_);
    auto inode = find(file);
    if (!inode) fail(ENOENT, "modified: no " + file.string());
    return inode->modified;
}

std::string SimulatedDisk::read(const std::filesystem::path& file, std::uint64_t offset, std::size_t length) {
    std::lock_guard lock(mutex_);
    largest_read_ = std::max(largest_read_, length);
    auto inode = find(file);
    if (!inode) fail(ENOENT, "read: no " + file.string());
    if (offset >= inode->data.size()) return {};
    return inode->data.substr(static_cast<std::size_t>(offset), length);
}

std::vector<std::string> SimulatedDisk::list(const std::filesystem::path& dir) {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [name, inode] : directory(dir)) out.push_back(name);
    return out;
}

}  // namespace esr::test
