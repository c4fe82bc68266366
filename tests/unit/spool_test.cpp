#include "spool_support.hpp"

#include "esr/encoding.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <thread>

#include <sys/wait.h>
#include <unistd.h>

using namespace esr::test::spool_support;
using esr::Delivery;
using esr::Kind;
using esr::spool::Spool;
using esr::test::SimulatedDisk;
using esr::spool::StateDirInUse;
using esr::spool::StateDirLock;

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

BOOST_AUTO_TEST_CASE(a_full_spool_refuses) {
    TempDir dir;
    Spool spool(on_disk(dir.path, 200));
    BOOST_TEST(append(spool, delivery(std::string(100, 'a'))));
    BOOST_TEST(!append(spool, delivery(std::string(100, 'b'))));
    BOOST_TEST(spool.depth().records == 1u);
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

BOOST_AUTO_TEST_CASE(quarantine_keeps_the_exact_body_and_its_metadata_once) {
    TempDir dir;
    Spool spool(on_disk(dir.path / "spool"));
    auto d = delivery(std::string("{\"x\":\"\0\xff\"}", 11), Kind::hoteldemand);
    d.path = "/hoteldemand";
    spool.quarantine(d, "cannot be stored: reason");
    spool.quarantine(d, "cannot be stored: reason");
    BOOST_TEST(spool.quarantined() == 2u);

    const std::string sha = esr::to_hex(esr::sha256(d.body));
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
BOOST_AUTO_TEST_SUITE_END()
