// Writes a city-wide hoteldemand delivery (hotels x days) as EventsShop might send it, and the same
// rows as a COPY text file, so the benchmark can time the daemon against a raw COPY of the rows.
//
//   esr-bench-matrix HOTELS DAYS SEED BODY.json ROWS.tsv
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s HOTELS DAYS SEED BODY.json ROWS.tsv\n", argv[0]);
        return 2;
    }
    const int hotels = std::atoi(argv[1]);
    const int days = std::atoi(argv[2]);
    std::mt19937 random(static_cast<unsigned>(std::atoi(argv[3])));
    std::ofstream body(argv[4], std::ios::binary);
    std::ofstream rows(argv[5], std::ios::binary);
    using namespace std::chrono;
    const sys_days start = year_month_day{year{2026}, month{3}, day{1}};
    const int demand_id = 700000 + static_cast<int>(random() % 1000);

    body << "{\"demandId\": " << demand_id << ", \"hotelCode\": 0, \"city\": \"Barcelona\", \"country\": \"Spain\", "
         << "\"startDate\": \"2026-03-01\", \"horizon\": " << days << ", \"demand\": [\n";
    char date[16];
    for (int h = 0; h < hotels; ++h) {
        const int code = 10000 + h;
        for (int d = 0; d < days; ++d) {
            year_month_day ymd{start + sys_days::duration(d)};
            std::snprintf(date, sizeof date, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                          static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
            const int absolute = 200 + static_cast<int>(random() % 1800);
            const int relative = static_cast<int>(random() % 101);
            const int events = static_cast<int>(random() % 12);
            if (h || d) body << ",\n";
            body << "{\"hotelCode\":" << code << ",\"hotelName\":\"Hotel " << code << "\",\"date\":\""
                 << date << "\",\"absoluteDemand\":" << absolute << ",\"relativeDemand\":" << relative
                 << ",\"eventsRegistered\":" << events << "}";
            rows << demand_id << '\t' << code << "\tHotel " << code << "\tBarcelona\tSpain\t" << date << '\t'
                 << absolute << '\t' << relative << '\t' << events << '\n';
        }
    }
    body << "\n]}\n";
    return body && rows ? 0 : 1;
}
