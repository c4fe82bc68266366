#include "spool_support.hpp"

#include <boost/test/unit_test.hpp>

#include <random>
#include <set>
#include <thread>

using namespace esr::test::spool_support;
using esr::Delivery;
using esr::Kind;
using esr::spool::Spool;
using esr::test::SimulatedDisk;

// A disk that fails: failed writes, fsyncs and renames, and power cuts at every step.
BOOST_AUTO_TEST_SUITE(spool_faults)

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

namespace {

std::string body_of(int id) { return "{\"id\":" + std::to_string(id) + ",\"pad\":\"" + std::string(static_cast<std::size_t>(id % 97), 'p') + "\"}"; }

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
