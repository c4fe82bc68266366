// A stand-in for EventsShop's sender.
#include "esr/sim/simulate.hpp"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace esr::sim {
namespace {

const char* const cities[] = {"Barcelona", "Paris", "Lisbon", "New York", "Wilmington", "Quilmes", "Berlin", "Oslo"};
const char* const countries[] = {"Spain", "France", "Portugal", "United States", "United States", "Argentina",
                                 "Germany", "Norway"};

std::string date_after(int days_from_2026_03_01) {
    using namespace std::chrono;
    year_month_day ymd{sys_days{year{2026} / March / 1} + sys_days::duration(days_from_2026_03_01)};
    char out[16];
    std::snprintf(out, sizeof out, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()));
    return out;
}

std::string event_fields(std::mt19937_64& random, std::uint64_t event_id, int start) {
    auto city = random() % std::size(cities);
    std::ostringstream o;
    o << "\"eventId\": " << event_id << ", \"eventName\": \"Simulated event " << event_id << "\", \"category\": \""
      << 1 + random() % 5 << "\", \"subCategory\": \"" << 1 + random() % 60 << "\", \"startDate\": \""
      << date_after(start) << "\", \"endDate\": \"" << date_after(start + static_cast<int>(random() % 4))
      << "\", \"estimatedAttendee\": \"" << 100 * (1 + random() % 10) << "-" << 1000 * (1 + random() % 10)
      << "\", \"venue\": \"Venue " << random() % 1000 << "\", \"city\": \"" << cities[city] << "\", \"country\": \""
      << countries[city] << "\", \"lat\": \"" << static_cast<double>(random() % 180000) / 1000 - 90
      << "\", \"lng\": \"" << static_cast<double>(random() % 360000) / 1000 - 180 << "\", \"eventStatusCode\": "
      << 1 + random() % 5;
    return o.str();
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

std::string generate_body(Kind kind, std::uint64_t seed, std::uint64_t index, unsigned hotels, unsigned days) {
    std::mt19937_64 random(seed * 1'000'003 + index);
    const std::uint64_t id = 900'000'000 + seed % 1000 * 1'000'000 + index;
    const int start = static_cast<int>(random() % 365);
    switch (kind) {
        case Kind::eventimpact: {
            std::string body = "{" + event_fields(random, id, start) + ", \"impact\": [";
            for (int d = 0; d < 5; ++d)
                body += (d ? ", " : "") + std::string("{\"date\": \"") + date_after(start + d) +
                        "\", \"impactScore\": " + std::to_string(random() % 101) + "}";
            return body + "]}";
        }
        case Kind::hoteldemand: {
            auto city = random() % std::size(cities);
            std::ostringstream o;
            o << "{\"demandId\": " << id << ", \"hotelCode\": 0, \"city\": \"" << cities[city] << "\", \"country\": \""
              << countries[city] << "\", \"startDate\": \"" << date_after(start) << "\", \"horizon\": " << days
              << ", \"demand\": [";
            for (unsigned h = 0; h < hotels; ++h)
                for (unsigned d = 0; d < days; ++d)
                    o << (h || d ? ",\n" : "\n") << "{\"hotelCode\": " << 10000 + h << ", \"hotelName\": \"Hotel "
                      << 10000 + h << "\", \"date\": \"" << date_after(start + static_cast<int>(d))
                      << "\", \"absoluteDemand\": " << 200 + random() % 1800 << ", \"relativeDemand\": "
                      << random() % 101 << ", \"eventsRegistered\": " << random() % 12 << "}";
            o << "]}";
            return o.str();
        }
        case Kind::eventsinfo:
        case Kind::unclassified: return "{" + event_fields(random, id, start) + "}";
    }
    return "{}";
}

SimulateReport simulate(const SimulateOptions& options,
                        const std::function<void(const SimulateReport&)>& progress) {
    const std::uint64_t total = options.files.empty() ? options.count : options.files.size();
    std::atomic<std::uint64_t> next{0};
    std::mutex mutex;
    SimulateReport report;
    std::vector<std::chrono::microseconds> latencies;
    latencies.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(total, 10'000'000)));
    auto started = std::chrono::steady_clock::now();

    auto worker = [&] {
        http::Client client({options.ca_file, std::chrono::seconds(120)});
        const std::vector<std::pair<std::string, std::string>> headers{
            {"Authorization", options.authorization}, {"Content-Type", "application/json"}};
        for (std::uint64_t i; (i = next++) < total;) {
            std::string body = options.files.empty()
                                   ? generate_body(options.kind, options.seed, i, options.hotels, options.days)
                                   : read_file(options.files[i]);
            auto t0 = std::chrono::steady_clock::now();
            std::optional<unsigned> status;
            try {
                status = client.request("POST", options.target, headers, body).status;
            } catch (const http::ClientError&) {
                // no answer: counted below
            }
            auto took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
            std::lock_guard lock(mutex);
            ++report.sent;
            report.bytes += body.size();
            if (!status) {
                ++report.failed;
                continue;
            }
            ++report.statuses[*status];
            if (*status / 100 == 2) ++report.acknowledged;
            latencies.push_back(took);
        }
    };
    std::vector<std::thread> threads;
    for (unsigned c = 0; c < std::max(1u, options.concurrency); ++c) threads.emplace_back(worker);

    std::atomic<bool> done{false};
    std::thread reporter([&] {
        while (!done) {
            for (int i = 0; i < 20 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
            if (done) break;
            std::lock_guard lock(mutex);
            report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            progress(report);
        }
    });
    for (auto& t : threads) t.join();
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    done = true;
    reporter.join();

    if (!latencies.empty()) {
        std::sort(latencies.begin(), latencies.end());
        report.p50 = latencies[latencies.size() / 2];
        report.p99 = latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
    }
    return report;
}

}  // namespace esr::sim
