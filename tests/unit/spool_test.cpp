#include "esr/spool/spool.hpp"

#include "simulated_disk.hpp"

#include <boost/crc.hpp>
#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <openssl/sha.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

using esr::Delivery;
using esr::Kind;
using esr::spool::Spool;
using esr::spool::StateDirInUse;
using esr::spool::StateDirLock;
using esr::test::SimulatedDisk;

namespace {

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char templ[] = "/tmp/esr-spool-test-XXXXXX";
        path = ::mkdtemp(templ);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

Delivery delivery(const std::string& body, std::optional<Kind> declared = std::nullopt) {
    Delivery d;
    d.body = body;
    d.declared_kind = declared;
    d.principal = "bearer:1";
    d.remote_addr = "192.0.2.7";
    d.path = "/x";
    return d;
}

Spool::Options on_disk(const std::filesystem::path& dir, std::uint64_t max_bytes = 1 << 20) {
    return {.dir = dir, .max_bytes = max_bytes, .max_record_bytes = 1 << 20};
}

Spool::Options simulated(SimulatedDisk& disk, std::uint64_t max_bytes = 1 << 20) {
    return {.dir = "/state/spool", .max_bytes = max_bytes, .max_record_bytes = 1 << 20, .fs = &disk};
}

bool append(Spool& spool, const Delivery& d) {
    std::promise<bool> durable;
    spool.append(d, [&](bool ok) { durable.set_value(ok); });
    return durable.get_future().get();
}

std::vector<Delivery> read_all(Spool& spool, const std::filesystem::path& file) {
    std::vector<Delivery> out;
    spool.read(file, [&](Delivery&& d) {
        out.push_back(std::move(d));
        return true;
    });
    return out;
}

std::vector<std::string> bodies(Spool& spool, const std::filesystem::path& file) {
    std::vector<std::string> out;
    for (auto& d : read_all(spool, file)) out.push_back(d.body);
    return out;
}

/// Drains everything the spool holds, in order.
std::vector<std::string> drain_all(Spool& spool) {
    std::vector<std::string> out;
    while (auto file = spool.take_for_drain()) {
        for (auto& b : bodies(spool, *file)) out.push_back(b);
        spool.finish_drain(*file);
    }
    return out;
}

std::uint32_t crc32(std::string_view bytes) {
    boost::crc_32_type crc;
    crc.process_bytes(bytes.data(), bytes.size());
    return crc.checksum();
}

template <class T>
void put(std::string& out, T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

// Frames written by hand, independently of the spool's own writer.
std::string frame_v1(const std::string& payload) {
    std::string f = "ESR1";
    put<std::uint64_t>(f, payload.size());
    put<std::uint32_t>(f, crc32(payload));
    return f + payload;
}

std::string frame_v2(const std::string& payload, std::int64_t ms = 1'700'000'000'000) {
    std::string f = "ESR2";
    put<std::uint64_t>(f, payload.size());
    put<std::int64_t>(f, ms);
    put<std::uint32_t>(f, crc32(f));
    f += payload;
    put<std::uint32_t>(f, crc32(payload));
    return f;
}

std::string slurp(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void spit(const std::filesystem::path& file, const std::string& bytes) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << bytes;
}

std::vector<std::filesystem::path> corrupt_files(const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().filename().string().rfind("corrupt-", 0) == 0) out.push_back(e.path());
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spool)

BOOST_AUTO_TEST_CASE(records_come_back_in_order_with_every_field) {
    TempDir dir;
    Spool spool(on_disk(dir.path));
    auto before = std::chrono::system_clock::now();
    BOOST_TEST(append(spool, delivery("{\"a\":1}", Kind::hoteldemand)));
    BOOST_TEST(append(spool, delivery(std::string("{\"b\":\"\0\xff\"}", 10))));
    BOOST_TEST(spool.depth().records == 2u);
    BOOST_REQUIRE(spool.depth().oldest);
    BOOST_TEST((*spool.depth().oldest >= before - std::chrono::milliseconds(1)));
    BOOST_TEST((*spool.depth().oldest <= std::chrono::system_clock::now()));
    auto file = spool.take_for_drain();
    BOOST_REQUIRE(file);
    auto got = read_all(spool, *file);
    BOOST_REQUIRE(got.size() == 2u);
    BOOST_TEST(got[0].body == "{\"a\":1}");
    BOOST_TEST((got[0].declared_kind == Kind::hoteldemand));
    BOOST_TEST(got[0].principal == "bearer:1");
    BOOST_TEST(got[0].remote_addr == "192.0.2.7");
    BOOST_TEST(got[0].path == "/x");
    BOOST_TEST(got[1].body == std::string("{\"b\":\"\0\xff\"}", 10));
    BOOST_TEST(!got[1].declared_kind);
}

BOOST_AUTO_TEST_CASE(appends_go_to_a_new_file_while_one_drains) {
    TempDir dir;
    Spool spool(on_disk(dir.path));
    append(spool, delivery("1"));
    auto file = spool.take_for_drain();
    append(spool, delivery("2"));
    BOOST_TEST(spool.depth().records == 2u);
    BOOST_TEST(read_all(spool, *file).size() == 1u);
    // Until it is finished, the same file is offered again (say, after a failed drain).
    BOOST_TEST(*spool.take_for_drain() == *file);
    BOOST_TEST(read_all(spool, *file).size() == 1u);
    spool.finish_drain(*file);
    BOOST_TEST(spool.depth().records == 1u);
    auto next = spool.take_for_drain();
    BOOST_REQUIRE(next);
    BOOST_TEST(read_all(spool, *next)[0].body == "2");
    spool.finish_drain(*next);
    BOOST_TEST(!spool.take_for_drain());
    BOOST_TEST(spool.depth().bytes == 0u);
}

BOOST_AUTO_TEST_CASE(a_drain_file_not_read_to_its_end_is_not_removed) {
    TempDir dir;
    Spool spool(on_disk(dir.path));
    append(spool, delivery("1"));
    append(spool, delivery("2"));
    auto file = spool.take_for_drain();
    BOOST_TEST(!spool.read(*file, [](Delivery&&) { return false; }));  // stopped after the first
    BOOST_CHECK_THROW(spool.finish_drain(*file), std::logic_error);
    BOOST_TEST(std::filesystem::exists(*file));
    BOOST_TEST(spool.depth().records == 2u);
}

BOOST_AUTO_TEST_CASE(it_survives_a_restart_and_a_torn_tail_is_cut_off) {
    TempDir dir;
    {
        Spool spool(on_disk(dir.path));
        append(spool, delivery("kept-1"));
        append(spool, delivery("kept-2"));
    }
    // A crash in the middle of the third record's write.
    auto log = dir.path / "spool.log";
    auto size = std::filesystem::file_size(log);
    {
        std::ofstream out(log, std::ios::binary | std::ios::app);
        out << std::string(Spool::encode(delivery("torn")).substr(0, 9));
    }
    BOOST_TEST(std::filesystem::file_size(log) > size);
    Spool reopened(on_disk(dir.path));
    BOOST_TEST(std::filesystem::file_size(log) == size);
    BOOST_TEST(reopened.depth().records == 2u);
    append(reopened, delivery("after"));
    auto got = read_all(reopened, *reopened.take_for_drain());
    BOOST_REQUIRE(got.size() == 3u);
    BOOST_TEST(got[2].body == "after");
}

BOOST_AUTO_TEST_CASE(a_corrupted_last_record_is_not_counted) {
    TempDir dir;
    {
        Spool spool(on_disk(dir.path));
        append(spool, delivery("first"));
        append(spool, delivery("second"));
    }
    auto log = dir.path / "spool.log";
    {
        std::fstream f(log, std::ios::binary | std::ios::in | std::ios::out);
        f.seekp(-2, std::ios::end);
        f.put('X');  // inside the second record's checksum: it no longer matches
    }
    Spool reopened(on_disk(dir.path));
    BOOST_TEST(reopened.depth().records == 1u);
    BOOST_TEST(corrupt_files(dir.path).size() == 1u);  // kept, though cut off
}

BOOST_AUTO_TEST_CASE(a_full_spool_refuses) {
    TempDir dir;
    Spool spool(on_disk(dir.path, 200));
    BOOST_TEST(append(spool, delivery(std::string(100, 'a'))));
    BOOST_TEST(!append(spool, delivery(std::string(100, 'b'))));
    BOOST_TEST(spool.depth().records == 1u);
}

BOOST_AUTO_TEST_CASE(a_corrupt_middle_record_loses_only_itself) {
    const std::string payloads[] = {Spool::encode(delivery("first")), Spool::encode(delivery("second")),
                                    Spool::encode(delivery("third"))};
    const auto first_size = 24 + payloads[0].size() + 4;
    const auto middle_size = 24 + payloads[1].size() + 4;
    // Where in the middle frame a byte flips: its payload, then its length field.
    for (std::size_t at : {std::size_t(24 + 10), std::size_t(4 + 2)}) {
        BOOST_TEST_CONTEXT("flipped byte " << at << " of the middle frame") {
            TempDir dir;
            {
                Spool spool(on_disk(dir.path));
                for (const char* b : {"first", "second", "third"}) BOOST_REQUIRE(append(spool, delivery(b)));
            }
            auto log = dir.path / "spool.log";
            std::string bytes = slurp(log);
            bytes[first_size + at] ^= 0x20;
            spit(log, bytes);

            Spool reopened(on_disk(dir.path));
            BOOST_TEST(reopened.depth().records == 2u);
            BOOST_TEST(reopened.corrupt_regions() == 1u);
            auto saved = corrupt_files(dir.path);
            BOOST_REQUIRE(saved.size() == 1u);
            BOOST_TEST(slurp(saved[0]) == bytes.substr(first_size, middle_size));
            BOOST_TEST(std::filesystem::file_size(log) == bytes.size());  // nothing cut
            auto file = reopened.take_for_drain();
            BOOST_REQUIRE(file);
            BOOST_TEST((bodies(reopened, *file) == std::vector<std::string>{"first", "third"}));
            BOOST_TEST(reopened.corrupt_regions() == 1u);  // found at start-up, not counted again
            BOOST_TEST(corrupt_files(dir.path).size() == 1u);
        }
    }
    // The same damage in spool.draining, found by read().
    for (std::size_t at : {std::size_t(24 + 10), std::size_t(4 + 2)}) {
        BOOST_TEST_CONTEXT("spool.draining, flipped byte " << at << " of the middle frame") {
            TempDir dir;
            Spool spool(on_disk(dir.path));
            for (const char* b : {"first", "second", "third"}) BOOST_REQUIRE(append(spool, delivery(b)));
            auto file = spool.take_for_drain();
            BOOST_REQUIRE(file);
            std::string bytes = slurp(*file);
            bytes[first_size + at] ^= 0x20;
            spit(*file, bytes);
            BOOST_TEST((bodies(spool, *file) == std::vector<std::string>{"first", "third"}));
            BOOST_TEST(spool.corrupt_regions() == 1u);
            auto saved = corrupt_files(dir.path);
            BOOST_REQUIRE(saved.size() == 1u);
            BOOST_TEST(slurp(saved[0]) == bytes.substr(first_size, middle_size));
        }
    }
}

BOOST_AUTO_TEST_CASE(a_corrupted_length_allocates_nothing_huge) {
    const std::string first = Spool::encode(delivery("first")), second = Spool::encode(delivery("second")),
                      third = Spool::encode(delivery("third"));
    for (bool fix_header_checksum : {false, true}) {
        BOOST_TEST_CONTEXT("header checksum recomputed: " << fix_header_checksum) {
            SimulatedDisk disk;
            disk.create_directories("/state/spool");
            std::string middle = frame_v2(second);
            std::uint64_t huge = 1ull << 39;
            std::memcpy(middle.data() + 4, &huge, sizeof huge);
            if (fix_header_checksum) {  // so that only the bound on the length can catch it
                std::uint32_t crc = crc32(std::string_view(middle).substr(0, 20));
                std::memcpy(middle.data() + 20, &crc, sizeof crc);
            }
            disk.set_contents("/state/spool/spool.log", frame_v2(first) + middle + frame_v2(third));
            auto started = std::chrono::steady_clock::now();
            Spool spool(simulated(disk));
            BOOST_TEST(spool.depth().records == 2u);
            BOOST_TEST(bodies(spool, *spool.take_for_drain()) == (std::vector<std::string>{"first", "third"}),
                       boost::test_tools::per_element());
            BOOST_TEST(spool.corrupt_regions() == 1u);
            BOOST_TEST(disk.largest_read() <= (1u << 20) + 64 * 1024 + 4);  // never the length it was told
            BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::seconds(2)));
        }
    }
}

BOOST_AUTO_TEST_CASE(a_torn_tail_is_cut_only_at_the_end) {
    const std::string one = frame_v2(Spool::encode(delivery("one"))), two = frame_v2(Spool::encode(delivery("two")));
    const std::string torn = frame_v2(Spool::encode(delivery("never acknowledged"))).substr(0, 30);
    {
        TempDir dir;
        spit(dir.path / "spool.log", one + two + torn);
        Spool spool(on_disk(dir.path));
        BOOST_TEST(std::filesystem::file_size(dir.path / "spool.log") == one.size() + two.size());
        BOOST_TEST(spool.depth().records == 2u);
        auto saved = corrupt_files(dir.path);
        BOOST_REQUIRE(saved.size() == 1u);
        BOOST_TEST(slurp(saved[0]) == torn);
        BOOST_REQUIRE(append(spool, delivery("three")));
        BOOST_TEST((drain_all(spool) == std::vector<std::string>{"one", "two", "three"}));
    }
    {
        // The same torn frame with a valid one after it: not a tail, so nothing is cut.
        TempDir dir;
        spit(dir.path / "spool.log", one + torn + two);
        Spool spool(on_disk(dir.path));
        BOOST_TEST(std::filesystem::file_size(dir.path / "spool.log") == one.size() + torn.size() + two.size());
        BOOST_TEST(spool.depth().records == 2u);
        BOOST_TEST((drain_all(spool) == std::vector<std::string>{"one", "two"}));
        BOOST_TEST(spool.corrupt_regions() == 1u);
    }
}

BOOST_AUTO_TEST_CASE(old_format_records_are_still_read) {
    TempDir dir;
    auto log = dir.path / "spool.log";
    spit(log, frame_v1(Spool::encode(delivery("from v1", Kind::hoteldemand))) + frame_v1(Spool::encode(delivery("also v1"))));
    auto mtime = std::chrono::file_clock::to_sys(std::filesystem::last_write_time(log));
    Spool spool(on_disk(dir.path));
    BOOST_TEST(spool.depth().records == 2u);
    BOOST_REQUIRE(spool.depth().oldest);
    // Spooled when? A v1 frame does not say: the file's mtime stands in.
    BOOST_TEST((std::chrono::abs(*spool.depth().oldest - mtime) < std::chrono::seconds(1)));
    BOOST_REQUIRE(append(spool, delivery("v2 after them")));
    auto file = spool.take_for_drain();
    auto got = read_all(spool, *file);
    BOOST_REQUIRE(got.size() == 3u);
    BOOST_TEST(got[0].body == "from v1");
    BOOST_TEST((got[0].declared_kind == Kind::hoteldemand));
    BOOST_TEST(got[1].body == "also v1");
    BOOST_TEST(got[2].body == "v2 after them");
    BOOST_TEST(spool.corrupt_regions() == 0u);
}

BOOST_AUTO_TEST_CASE(a_second_spool_on_the_state_dir_is_refused) {
    TempDir dir;
    std::optional<StateDirLock> first;
    first.emplace(dir.path);
    auto names_dir_and_pid = [&](const StateDirInUse& e) {
        std::string what = e.what();
        return what.find("--state-dir " + dir.path.string() + " is in use") != std::string::npos &&
               what.find("(pid " + std::to_string(::getpid()) + ")") != std::string::npos;
    };
    // In this process: flock on a second open file description conflicts too.
    BOOST_CHECK_EXCEPTION(StateDirLock second(dir.path), StateDirInUse, names_dir_and_pid);
    // In another process, as a second daemon would be.
    pid_t child = ::fork();
    if (child == 0) {
        try {
            StateDirLock second(dir.path);
            ::_exit(0);
        } catch (const StateDirInUse&) {
            ::_exit(3);
        } catch (...) {
            ::_exit(4);
        }
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 3);
    // Released with its holder.
    first.reset();
    BOOST_CHECK_NO_THROW(StateDirLock again(dir.path));
}

BOOST_AUTO_TEST_CASE(a_failed_write_then_failed_truncate_takes_the_spool_out_of_service) {
    SimulatedDisk disk;
    Spool spool(simulated(disk));
    BOOST_REQUIRE(append(spool, delivery("good")));
    auto good_size = disk.contents("/state/spool/spool.log").size();

    // A failed fdatasync, cut back off: still in service.
    disk.fail_next(SimulatedDisk::Op::fdatasync);
    BOOST_TEST(!append(spool, delivery("failed sync")));
    BOOST_TEST(spool.in_service());
    BOOST_TEST(disk.contents("/state/spool/spool.log").size() == good_size);
    // A short write, cut back off: still in service, and the next record follows the good one.
    disk.fail_next(SimulatedDisk::Op::write);
    BOOST_TEST(!append(spool, delivery("failed write")));
    BOOST_TEST(spool.in_service());
    BOOST_TEST(disk.contents("/state/spool/spool.log").size() == good_size);
    BOOST_REQUIRE(append(spool, delivery("good again")));
    good_size = disk.contents("/state/spool/spool.log").size();

    // A short write that cannot be cut back off: nothing may follow the garbage.
    disk.fail_next(SimulatedDisk::Op::write);
    disk.fail_next(SimulatedDisk::Op::ftruncate);
    BOOST_TEST(!append(spool, delivery("garbage")));
    BOOST_TEST(!spool.in_service());
    auto with_garbage = disk.contents("/state/spool/spool.log");
    BOOST_TEST(with_garbage.size() > good_size);
    auto mutations = disk.mutations();
    BOOST_TEST(!append(spool, delivery("refused")));
    BOOST_TEST(disk.mutations() == mutations);  // not even tried
    BOOST_TEST(disk.contents("/state/spool/spool.log") == with_garbage);
    BOOST_TEST(spool.depth().records == 2u);
    // What it acknowledged still drains (the garbage is skipped and saved).
    BOOST_TEST((drain_all(spool) == std::vector<std::string>{"good", "good again"}));
}

BOOST_AUTO_TEST_CASE(a_failed_rotation_keeps_appending_to_the_old_file) {
    for (auto op : {SimulatedDisk::Op::open, SimulatedDisk::Op::fsync_directory, SimulatedDisk::Op::rename}) {
        BOOST_TEST_CONTEXT("failing op " << static_cast<int>(op)) {
            SimulatedDisk disk;
            {
                Spool spool(simulated(disk));
                BOOST_REQUIRE(append(spool, delivery("before")));
                disk.fail_next(op);
                BOOST_CHECK_THROW(spool.take_for_drain(), std::system_error);
                BOOST_TEST(spool.in_service());
                BOOST_TEST(!disk.exists("/state/spool/spool.draining"));
                BOOST_REQUIRE(append(spool, delivery("after")));
                BOOST_TEST(spool.depth().records == 2u);
                BOOST_TEST(bodies(spool, "/state/spool/spool.log") == (std::vector<std::string>{"before", "after"}),
                           boost::test_tools::per_element());
            }
            // Both acknowledged records are durable, under a name the next start finds.
            auto after_cut = disk.power_cut();
            Spool reopened(simulated(*after_cut));
            BOOST_TEST((drain_all(reopened) == std::vector<std::string>{"before", "after"}));
        }
    }
}

BOOST_AUTO_TEST_CASE(a_failed_directory_fsync_is_reported) {
    {
        // finish_drain: the removal may not be durable; the caller hears of it.
        SimulatedDisk disk;
        Spool spool(simulated(disk));
        BOOST_REQUIRE(append(spool, delivery("1")));
        auto file = spool.take_for_drain();
        read_all(spool, *file);
        disk.fail_next(SimulatedDisk::Op::fsync_directory);
        BOOST_CHECK_THROW(spool.finish_drain(*file), std::system_error);
    }
    {
        // At start-up: spool.log's directory entry may not be durable.
        SimulatedDisk disk;
        disk.create_directories("/state/spool");
        disk.fail_next(SimulatedDisk::Op::fsync_directory);
        BOOST_CHECK_THROW(Spool spool(simulated(disk)), std::system_error);
    }
    {
        // Quarantine.
        SimulatedDisk disk;
        Spool spool(simulated(disk));
        disk.fail_next(SimulatedDisk::Op::fsync_directory, 3);
        BOOST_CHECK_THROW(spool.quarantine(delivery("x"), "why"), std::system_error);
        BOOST_TEST(spool.quarantined() == 0u);
    }
}

BOOST_AUTO_TEST_CASE(quarantine_keeps_the_exact_body_and_its_metadata_once) {
    TempDir dir;
    Spool spool(on_disk(dir.path / "spool"));
    auto d = delivery(std::string("{\"x\":\"\0\xff\"}", 11), Kind::hoteldemand);
    d.path = "/hoteldemand";
    spool.quarantine(d, "cannot be stored: reason");
    spool.quarantine(d, "cannot be stored: reason");
    BOOST_TEST(spool.quarantined() == 2u);

    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(d.body.data()), d.body.size(), digest);
    std::string sha;
    for (unsigned char c : digest) {
        char h[3];
        std::snprintf(h, sizeof h, "%02x", c);
        sha += h;
    }
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir.path / "quarantine")) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    BOOST_REQUIRE(files.size() == 2u);  // the second time overwrote the first
    BOOST_TEST(files[0].extension() == ".body");
    BOOST_TEST(files[1].extension() == ".json");
    BOOST_TEST(files[0].stem() == files[1].stem());
    auto stem = files[0].stem().string();
    BOOST_TEST(stem.size() == std::string("20240607T101112.345Z-").size() + 64);
    BOOST_TEST(stem.substr(stem.size() - 64) == sha);
    BOOST_TEST(slurp(files[0]) == d.body);
    auto meta = boost::json::parse(slurp(files[1])).as_object();
    BOOST_TEST(meta.at("path").as_string() == "/hoteldemand");
    BOOST_TEST(meta.at("principal").as_string() == "bearer:1");
    BOOST_TEST(meta.at("remote_addr").as_string() == "192.0.2.7");
    BOOST_TEST(meta.at("declared_kind").as_string() == "hoteldemand");
    BOOST_TEST(meta.at("error").as_string() == "cannot be stored: reason");
    BOOST_TEST(meta.at("spooled_at").is_string());
}

namespace {

std::string body_of(int id) { return "{\"id\":" + std::to_string(id) + ",\"pad\":\"" + std::string(id % 97, 'p') + "\"}"; }

int id_of(const std::string& body) { return std::stoi(body.substr(6)); }

struct PowerCutRun {
    std::size_t acknowledged = 0;  // before the cut, and not drained
    std::vector<int> lost;         // of those, missing after the cut
    std::vector<std::string> garbled;
};

/// Writers append under load while a drainer rotates, reads and finishes drain files; the power
/// goes before mutation `cut`. Then a new spool on what the disk kept must hold every record
/// acknowledged before the cut and not drained (a drained one was in the database by then).
PowerCutRun run_with_power_cut(std::uint64_t seed, std::uint64_t cut, bool skip_fdatasync) {
    SimulatedDisk disk;
    disk.skip_fdatasync(skip_fdatasync);
    disk.cut_power_before(cut);
    std::mutex m;
    std::set<int> acked, drained;
    {
        Spool spool(simulated(disk, 1ull << 30));
        std::atomic<int> writers_left{3};
        std::vector<std::thread> threads;
        for (int w = 0; w < 3; ++w)
            threads.emplace_back([&, w] {
                for (int i = 0; i < 80; ++i) {
                    int id = w * 1000 + i;
                    std::promise<bool> done;
                    spool.append(delivery(body_of(id)), [&, id](bool ok) {
                        // Acknowledged before the cut: fdatasync returned before the cut was taken.
                        if (ok && !disk.power_was_cut()) {
                            std::lock_guard lock(m);
                            acked.insert(id);
                        }
                        done.set_value(ok);
                    });
                    done.get_future().get();
                    if (i % 8 == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));  // let drains in
                }
                --writers_left;
            });
        threads.emplace_back([&] {
            std::mt19937 random(static_cast<unsigned>(seed));
            while (writers_left > 0) {
                std::this_thread::sleep_for(std::chrono::microseconds(100 + random() % 400));
                try {
                    auto file = spool.take_for_drain();
                    if (!file) continue;
                    std::vector<int> ids;
                    if (!spool.read(*file, [&](Delivery&& d) {
                            ids.push_back(id_of(d.body));
                            return true;
                        }))
                        continue;
                    // Excused from the check only if removed before the cut (after it, the
                    // file must still be there).
                    if (!disk.power_was_cut()) {
                        std::lock_guard lock(m);
                        drained.insert(ids.begin(), ids.end());
                    }
                    spool.finish_drain(*file);
                } catch (const std::exception& e) {
                    BOOST_ERROR("drain failed: " << e.what());
                }
            }
        });
        for (auto& t : threads) t.join();
    }
    auto after_cut = disk.power_cut(seed);
    PowerCutRun run;
    BOOST_TEST_MESSAGE("mutations " << disk.mutations() << " acked " << acked.size() << " drained " << drained.size());
    std::set<int> found;
    {
        Spool reopened(simulated(*after_cut, 1ull << 30));
        while (auto file = reopened.take_for_drain()) {
            reopened.read(*file, [&](Delivery&& d) {
                int id = id_of(d.body);
                if (d.body != body_of(id) || d.principal != "bearer:1" || d.path != "/x") run.garbled.push_back(d.body);
                found.insert(id);
                return true;
            });
            reopened.finish_drain(*file);
        }
    }
    for (int id : acked) {
        if (drained.count(id)) continue;
        ++run.acknowledged;
        if (!found.count(id)) run.lost.push_back(id);
    }
    return run;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_acknowledged_record_survives_a_power_cut) {
    std::size_t checked = 0;
    for (std::uint64_t seed = 0; seed < 200; ++seed) {
        std::uint64_t cut = 1 + (seed * 7919) % 300;
        auto run = run_with_power_cut(seed, cut, false);
        checked += run.acknowledged;
        BOOST_TEST_CONTEXT("seed " << seed << ", power cut before mutation " << cut) {
            BOOST_TEST(run.lost.empty(), "lost " << run.lost.size() << " acknowledged records, the first "
                                                  << (run.lost.empty() ? -1 : run.lost.front()));
            BOOST_TEST(run.garbled.empty());
        }
    }
    BOOST_TEST(checked > 1000u);  // the cuts fell while acknowledged records were waiting
}

BOOST_AUTO_TEST_CASE(the_power_cut_test_catches_a_spool_that_skips_fdatasync) {
    std::size_t lost = 0;
    for (std::uint64_t seed = 0; seed < 20; ++seed) lost += run_with_power_cut(seed, 1 + (seed * 7919) % 300, true).lost.size();
    BOOST_TEST(lost > 0u);
}

BOOST_AUTO_TEST_SUITE_END()
