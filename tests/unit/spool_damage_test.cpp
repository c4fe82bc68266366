#include "spool_support.hpp"

#include <boost/test/unit_test.hpp>

using namespace esr::test::spool_support;
using esr::Delivery;
using esr::Kind;
using esr::spool::Spool;
using esr::test::SimulatedDisk;

// Damaged files: torn tails, flipped bytes, impossible lengths, the old format.
BOOST_AUTO_TEST_SUITE(spool_damage)

BOOST_AUTO_TEST_CASE(it_survives_a_restart_and_a_torn_tail_is_cut_off) {
    // A crash in the middle of the third record's write, at each place a write can stop: inside
    // the header, right after it, inside the payload, inside the trailing checksum.
    const std::string frame = frame_v2(Spool::encode(delivery("torn")));
    for (std::size_t cut : {std::size_t{2}, std::size_t{10}, std::size_t{24}, frame.size() / 2, frame.size() - 1}) {
        BOOST_TEST_CONTEXT("the torn frame ends after " << cut << " of its " << frame.size() << " bytes") {
            TempDir dir;
            {
                Spool spool(on_disk(dir.path));
                append(spool, delivery("kept-1"));
                append(spool, delivery("kept-2"));
            }
            auto log = dir.path / "spool.log";
            auto size = std::filesystem::file_size(log);
            {
                std::ofstream out(log, std::ios::binary | std::ios::app);
                out << frame.substr(0, cut);
            }
            BOOST_TEST(std::filesystem::file_size(log) == size + cut);
            Spool reopened(on_disk(dir.path));
            BOOST_TEST(std::filesystem::file_size(log) == size);
            BOOST_TEST(reopened.depth().records == 2u);
            append(reopened, delivery("after"));
            auto got = read_all(reopened, *reopened.take_for_drain());
            BOOST_REQUIRE(got.size() == 3u);
            BOOST_TEST(got[0].body == "kept-1");
            BOOST_TEST(got[2].body == "after");
        }
    }
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

BOOST_AUTO_TEST_SUITE_END()
