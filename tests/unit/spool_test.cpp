#include "esr/db/spool.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <future>

using esr::Delivery;
using esr::Kind;
using esr::db::Spool;

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

bool append(Spool& spool, const Delivery& d) {
    std::promise<bool> durable;
    spool.append(d, [&](bool ok) { durable.set_value(ok); });
    return durable.get_future().get();
}

std::vector<Delivery> read_all(const std::filesystem::path& file) {
    std::vector<Delivery> out;
    Spool::read(file, [&](Delivery&& d) {
        out.push_back(std::move(d));
        return true;
    });
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spool)

BOOST_AUTO_TEST_CASE(records_come_back_in_order_with_every_field) {
    TempDir dir;
    Spool spool(dir.path, 1 << 20);
    BOOST_TEST(append(spool, delivery("{\"a\":1}", Kind::hoteldemand)));
    BOOST_TEST(append(spool, delivery(std::string("{\"b\":\"\0\xff\"}", 10))));
    BOOST_TEST(spool.depth().records == 2u);
    auto file = spool.take_for_drain();
    BOOST_REQUIRE(file);
    auto got = read_all(*file);
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
    Spool spool(dir.path, 1 << 20);
    append(spool, delivery("1"));
    auto file = spool.take_for_drain();
    append(spool, delivery("2"));
    BOOST_TEST(spool.depth().records == 2u);
    BOOST_TEST(read_all(*file).size() == 1u);
    // Until it is finished, the same file is offered again (say, after a failed drain).
    BOOST_TEST(*spool.take_for_drain() == *file);
    spool.finish_drain(*file);
    BOOST_TEST(spool.depth().records == 1u);
    auto next = spool.take_for_drain();
    BOOST_REQUIRE(next);
    BOOST_TEST(read_all(*next)[0].body == "2");
    spool.finish_drain(*next);
    BOOST_TEST(!spool.take_for_drain());
    BOOST_TEST(spool.depth().bytes == 0u);
}

BOOST_AUTO_TEST_CASE(it_survives_a_restart_and_a_torn_tail_is_cut_off) {
    TempDir dir;
    {
        Spool spool(dir.path, 1 << 20);
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
    Spool reopened(dir.path, 1 << 20);
    BOOST_TEST(std::filesystem::file_size(log) == size);
    BOOST_TEST(reopened.depth().records == 2u);
    append(reopened, delivery("after"));
    auto got = read_all(*reopened.take_for_drain());
    BOOST_REQUIRE(got.size() == 3u);
    BOOST_TEST(got[2].body == "after");
}

BOOST_AUTO_TEST_CASE(a_corrupted_record_stops_the_read_there) {
    TempDir dir;
    {
        Spool spool(dir.path, 1 << 20);
        append(spool, delivery("first"));
        append(spool, delivery("second"));
    }
    auto log = dir.path / "spool.log";
    {
        std::fstream f(log, std::ios::binary | std::ios::in | std::ios::out);
        f.seekp(-2, std::ios::end);
        f.put('X');  // inside the second record's body: its CRC no longer matches
    }
    Spool reopened(dir.path, 1 << 20);
    BOOST_TEST(reopened.depth().records == 1u);
}

BOOST_AUTO_TEST_CASE(a_full_spool_refuses) {
    TempDir dir;
    Spool spool(dir.path, 200);
    BOOST_TEST(append(spool, delivery(std::string(100, 'a'))));
    BOOST_TEST(!append(spool, delivery(std::string(100, 'b'))));
    BOOST_TEST(spool.depth().records == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
