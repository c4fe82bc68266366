#include "esr/metrics.hpp"

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#ifndef ESR_VERSION
#define ESR_VERSION "0.0.0-unknown"
#endif

namespace esr {
namespace {

constexpr std::array<Kind, 4> kinds{Kind::unclassified, Kind::eventsinfo, Kind::eventimpact, Kind::hoteldemand};

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.15g", v);  // enough for a Unix time to the centisecond
    return buf;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void sample(std::string& out, const std::string& name, const std::string& labels, std::uint64_t v) {
    out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + std::to_string(v) + "\n";
}

void sample_real(std::string& out, const std::string& name, const std::string& labels, double v) {
    out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + number(v) + "\n";
}

// The process_* series every Prometheus client library exports, from /proc, so the usual
// dashboards and alerts work unchanged.
void render_process(std::string& out) {
    std::ifstream stat_file("/proc/self/stat");
    std::string stat;
    std::getline(stat_file, stat);  // one line
    auto close = stat.rfind(')');  // the command name may hold spaces and parentheses
    if (close == std::string::npos) return;
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> f{std::istream_iterator<std::string>(fields), std::istream_iterator<std::string>()};
    if (f.size() < 22) return;
    // f[0] is field 3 (state): utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
    static const double boot = [] {  // the boot time does not change: read once
        double btime = 0;
        std::ifstream proc_stat("/proc/stat");
        for (std::string key; proc_stat >> key;) {
            if (key == "btime") {
                proc_stat >> btime;
                break;
            }
            proc_stat.ignore(1 << 20, '\n');
        }
        return btime;
    }();
    std::size_t open_fds = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec))
        ++open_fds;
    rlimit files{};
    ::getrlimit(RLIMIT_NOFILE, &files);

    header(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.");
    sample_real(out, "process_cpu_seconds_total", "", cpu);
    header(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    sample_real(out, "process_resident_memory_bytes", "", std::stod(f[21]) * static_cast<double>(::sysconf(_SC_PAGESIZE)));
    header(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    sample_real(out, "process_virtual_memory_bytes", "", std::stod(f[20]));
    header(out, "process_open_fds", "gauge", "Open file descriptors.");
    sample(out, "process_open_fds", "", open_fds);
    header(out, "process_max_fds", "gauge", "The limit on open file descriptors.");
    sample(out, "process_max_fds", "", files.rlim_cur);
    header(out, "process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.");
    sample_real(out, "process_start_time_seconds", "", boot + std::stod(f[19]) / ticks);
}

}  // namespace

void Metrics::Histogram::observe(std::chrono::microseconds d) {
    const double seconds = static_cast<double>(d.count()) / 1e6;
    std::size_t i = 0;
    while (i < bounds.size() && seconds > bounds[i]) ++i;
    buckets[i].fetch_add(1, std::memory_order_relaxed);
    sum_us.fetch_add(static_cast<std::uint64_t>(d.count()), std::memory_order_relaxed);
}

void Metrics::Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
    const std::string sep = labels.empty() ? "" : labels + ",";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= bounds.size(); ++i) {
        cumulative += buckets[i].load(std::memory_order_relaxed);
        sample(out, name + "_bucket", sep + "le=\"" + (i < bounds.size() ? number(bounds[i]) : "+Inf") + "\"",
               cumulative);
    }
    out += name + "_sum" + (labels.empty() ? "" : "{" + labels + "}") + " " +
           number(static_cast<double>(sum_us.load(std::memory_order_relaxed)) / 1e6) + "\n";
    sample(out, name + "_count", labels, cumulative);
}

void Metrics::request(http::Route route, unsigned status, std::chrono::microseconds duration, std::uint64_t bytes_in) {
    auto r = static_cast<std::size_t>(route);
    std::size_t s = statuses.size() - 1;  // "other"
    for (std::size_t i = 0; i + 1 < statuses.size(); ++i)
        if (statuses[i] == status) s = i;
    requests_[r][s].fetch_add(1, std::memory_order_relaxed);
    request_seconds_[r].observe(duration);
    bytes_received_.fetch_add(bytes_in, std::memory_order_relaxed);
}

void Metrics::delivery(Kind kind, std::int64_t records, bool duplicate, bool spooled) {
    auto k = static_cast<std::size_t>(kind);
    if (duplicate) {  // EventsShop is delivering, even if it sent this body before
        last_delivery_unix_[k].store(static_cast<std::int64_t>(std::time(nullptr)), std::memory_order_relaxed);
        duplicates_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    last_delivery_unix_[k].store(static_cast<std::int64_t>(std::time(nullptr)), std::memory_order_relaxed);
    deliveries_[k].fetch_add(1, std::memory_order_relaxed);
    records_[k].fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(records, 0)), std::memory_order_relaxed);
    if (spooled) spooled_.fetch_add(1, std::memory_order_relaxed);
}

void Metrics::rejected(std::string_view code) {
    (code == "kind_mismatch" ? rejected_kind_mismatch_ : rejected_invalid_json_).fetch_add(1, std::memory_order_relaxed);
}

void Metrics::commit(std::chrono::microseconds duration) { commit_seconds_.observe(duration); }

void Metrics::count_connections_with(std::function<std::size_t()> source) {
    std::lock_guard lock(connections_source_mutex_);
    connections_source_ = std::move(source);
}

std::string Metrics::render(const Gauges& g) const {
    std::string out;
    out.reserve(16 << 10);
    header(out, "eventsshop_http_requests_total", "counter", "HTTP requests answered, by route and status code.");
    for (std::size_t r = 0; r < http::route_count; ++r)
        for (std::size_t s = 0; s < statuses.size(); ++s) {
            auto v = requests_[r][s].load(std::memory_order_relaxed);
            if (v == 0) continue;
            sample(out, "eventsshop_http_requests_total",
                   "route=\"" + std::string(http::to_string(static_cast<http::Route>(r))) + "\",code=\"" +
                       (statuses[s] ? std::to_string(statuses[s]) : std::string("other")) + "\"",
                   v);
        }
    header(out, "eventsshop_http_request_duration_seconds", "histogram", "Time from request header to answer.");
    for (std::size_t r = 0; r < http::route_count; ++r)
        request_seconds_[r].render(out, "eventsshop_http_request_duration_seconds",
                                   "route=\"" + std::string(http::to_string(static_cast<http::Route>(r))) + "\"");
    header(out, "eventsshop_received_bytes_total", "counter", "Request bytes read (headers and bodies).");
    sample(out, "eventsshop_received_bytes_total", "", bytes_received_.load(std::memory_order_relaxed));
    header(out, "eventsshop_deliveries_total", "counter", "Deliveries acknowledged (new ones), by kind.");
    for (auto k : kinds)
        sample(out, "eventsshop_deliveries_total", "kind=\"" + std::string(to_string(k)) + "\"",
               deliveries_[static_cast<std::size_t>(k)].load(std::memory_order_relaxed));
    header(out, "eventsshop_last_delivery_timestamp_seconds", "gauge",
           "When a delivery of this kind was last acknowledged, since the Unix epoch (0: none since the start).");
    for (auto k : kinds)
        sample(out, "eventsshop_last_delivery_timestamp_seconds", "kind=\"" + std::string(to_string(k)) + "\"",
               static_cast<std::uint64_t>(last_delivery_unix_[static_cast<std::size_t>(k)].load(std::memory_order_relaxed)));
    header(out, "eventsshop_records_total", "counter", "Typed rows derived from acknowledged deliveries, by kind.");
    for (auto k : kinds)
        sample(out, "eventsshop_records_total", "kind=\"" + std::string(to_string(k)) + "\"",
               records_[static_cast<std::size_t>(k)].load(std::memory_order_relaxed));
    header(out, "eventsshop_duplicate_deliveries_total", "counter", "Bodies received again (stored once).");
    sample(out, "eventsshop_duplicate_deliveries_total", "", duplicates_.load(std::memory_order_relaxed));
    header(out, "eventsshop_spooled_deliveries_total", "counter", "Deliveries acknowledged from the local spool.");
    sample(out, "eventsshop_spooled_deliveries_total", "", spooled_.load(std::memory_order_relaxed));
    header(out, "eventsshop_rejected_deliveries_total", "counter", "Bodies answered 400 and kept for diagnosis.");
    sample(out, "eventsshop_rejected_deliveries_total", "reason=\"invalid_json\"",
           rejected_invalid_json_.load(std::memory_order_relaxed));
    sample(out, "eventsshop_rejected_deliveries_total", "reason=\"kind_mismatch\"",
           rejected_kind_mismatch_.load(std::memory_order_relaxed));
    header(out, "eventsshop_auth_failures_total", "counter", "Requests refused for missing or wrong credentials.");
    sample(out, "eventsshop_auth_failures_total", "", auth_failures_.load(std::memory_order_relaxed));
    header(out, "eventsshop_commit_duration_seconds", "histogram", "Time a writer's batch took to commit.");
    commit_seconds_.render(out, "eventsshop_commit_duration_seconds", "");
    header(out, "eventsshop_connections_open", "gauge", "HTTP connections open.");
    {
        std::lock_guard lock(connections_source_mutex_);
        sample(out, "eventsshop_connections_open", "", connections_source_ ? connections_source_() : 0);
    }
    header(out, "eventsshop_connections_refused_total", "counter",
           "Connections turned away at --max-connections or --max-connections-per-address.");
    sample(out, "eventsshop_connections_refused_total", "", connections_refused_.load(std::memory_order_relaxed));
    header(out, "eventsshop_queue_depth", "gauge", "Deliveries waiting for a database writer.");
    sample(out, "eventsshop_queue_depth", "", g.queue_depth);
    // Always present (0 without a spool), so an alert on them cannot silently never fire.
    header(out, "eventsshop_spool_enabled", "gauge", "1 when a local spool (--state-dir) is configured.");
    sample(out, "eventsshop_spool_enabled", "", g.spool_enabled ? 1 : 0);
    header(out, "eventsshop_spool_records", "gauge", "Deliveries in the local spool, waiting for PostgreSQL.");
    sample(out, "eventsshop_spool_records", "", g.spool_records);
    header(out, "eventsshop_spool_bytes", "gauge", "Bytes in the local spool.");
    sample(out, "eventsshop_spool_bytes", "", g.spool_bytes);
    header(out, "eventsshop_spool_oldest_record_age_seconds", "gauge",
           "How long the oldest delivery in the spool has waited (0 when empty).");
    sample_real(out, "eventsshop_spool_oldest_record_age_seconds", "", g.spool_oldest_age_seconds);
    header(out, "eventsshop_spool_drain_failures_total", "counter", "Attempts to drain the spool that failed.");
    sample(out, "eventsshop_spool_drain_failures_total", "", g.spool_drain_failures);
    header(out, "eventsshop_spool_quarantined_total", "counter",
           "Spooled deliveries that could not be stored and were set aside under the state directory.");
    sample(out, "eventsshop_spool_quarantined_total", "", g.spool_quarantined);
    header(out, "eventsshop_spool_corrupt_regions_total", "counter",
           "Damaged stretches of spool files moved aside to corrupt-* files.");
    sample(out, "eventsshop_spool_corrupt_regions_total", "", g.spool_corrupt_regions);
    header(out, "eventsshop_spool_in_service", "gauge", "0 once the spool refuses appends after a write it could not undo.");
    sample(out, "eventsshop_spool_in_service", "", g.spool_enabled && g.spool_in_service ? 1 : 0);
    header(out, "eventsshop_database_up", "gauge", "1 while PostgreSQL is reachable and migrated.");
    sample(out, "eventsshop_database_up", "", g.database_up ? 1 : 0);
    header(out, "eventsshop_build_info", "gauge", "The running build: its version, as a label.");
    sample(out, "eventsshop_build_info", "version=\"" ESR_VERSION "\"", 1);
    render_process(out);
    return out;
}

}  // namespace esr
