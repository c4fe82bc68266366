#pragma once

// What the spool's test files share: temporary directories, sample deliveries, and an independent
// writer of the frame format, so damage can be made byte by byte.
#include "esr/spool/spool.hpp"

#include "simulated_disk.hpp"

#include <boost/crc.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <stdlib.h>

namespace esr::test::spool_support {

using esr::Delivery;
using esr::Kind;
using esr::spool::Spool;

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char templ[] = "/tmp/esr-spool-test-XXXXXX";
        path = ::mkdtemp(templ);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

inline Delivery delivery(const std::string& body, std::optional<Kind> declared = std::nullopt) {
    Delivery d;
    d.body = body;
    d.declared_kind = declared;
    d.principal = "bearer:1";
    d.remote_addr = "192.0.2.7";
    d.path = "/x";
    return d;
}

inline Spool::Options on_disk(const std::filesystem::path& dir, std::uint64_t max_bytes = 1 << 20) {
    return {.dir = dir, .max_bytes = max_bytes, .max_record_bytes = 1 << 20};
}

inline Spool::Options simulated(SimulatedDisk& disk, std::uint64_t max_bytes = 1 << 20) {
    return {.dir = "/state/spool", .max_bytes = max_bytes, .max_record_bytes = 1 << 20, .fs = &disk};
}

inline bool append(Spool& spool, const Delivery& d) {
    std::promise<bool> durable;
    spool.append(d, [&](bool ok) { durable.set_value(ok); });
    return durable.get_future().get();
}

inline std::vector<Delivery> read_all(Spool& spool, const std::filesystem::path& file) {
    std::vector<Delivery> out;
    spool.read(file, [&](Delivery&& d) {
        out.push_back(std::move(d));
        return true;
    });
    return out;
}

inline std::vector<std::string> bodies(Spool& spool, const std::filesystem::path& file) {
    std::vector<std::string> out;
    for (auto& d : read_all(spool, file)) out.push_back(d.body);
    return out;
}

/// Drains everything the spool holds, in order.
inline std::vector<std::string> drain_all(Spool& spool) {
    std::vector<std::string> out;
    while (auto file = spool.take_for_drain()) {
        for (auto& b : bodies(spool, *file)) out.push_back(b);
        spool.finish_drain(*file);
    }
    return out;
}

inline std::uint32_t crc32(std::string_view bytes) {
    boost::crc_32_type crc;
    crc.process_bytes(bytes.data(), bytes.size());
    return crc.checksum();
}

template <class T>
inline void put(std::string& out, T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

// Frames written by hand, independently of the spool's own writer.
inline std::string frame_v1(const std::string& payload) {
    std::string f = "ESR1";
    put<std::uint64_t>(f, payload.size());
    put<std::uint32_t>(f, crc32(payload));
    return f + payload;
}

inline std::string frame_v2(const std::string& payload, std::int64_t ms = 1'700'000'000'000) {
    std::string f = "ESR2";
    put<std::uint64_t>(f, payload.size());
    put<std::int64_t>(f, ms);
    put<std::uint32_t>(f, crc32(f));
    f += payload;
    put<std::uint32_t>(f, crc32(payload));
    return f;
}

inline std::string slurp(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

inline void spit(const std::filesystem::path& file, const std::string& bytes) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << bytes;
}

inline std::vector<std::filesystem::path> corrupt_files(const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().filename().string().rfind("corrupt-", 0) == 0) out.push_back(e.path());
    return out;
}

}  // namespace esr::test::spool_support
