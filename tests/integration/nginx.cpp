#include "nginx.hpp"

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <regex>
#include <stdexcept>
#include <thread>

namespace esr::test {

std::string shipped_site(const std::string& file, int listen_port, const std::filesystem::path& pki,
                         const std::vector<std::pair<std::string, std::string>>& more) {
    std::string site = read_file(std::filesystem::path(ESR_SOURCE_DIR) / "deploy" / file);
    auto replace = [&](const std::string& pattern, const std::string& with) {
        std::string before = site;
        site = std::regex_replace(site, std::regex(pattern), with);
        if (site == before) throw std::runtime_error(file + " no longer has " + pattern);
    };
    replace(R"(listen 443 ssl http2;)", "listen 127.0.0.1:" + std::to_string(listen_port) + " ssl http2;");
    replace(R"(\n\s*listen \[::\]:443 ssl http2;)", "");
    replace(R"(ssl_certificate\s+\S+;)", "ssl_certificate " + (pki / "server.pem").string() + ";");
    replace(R"(ssl_certificate_key\s+\S+;)", "ssl_certificate_key " + (pki / "server.key").string() + ";");
    for (const auto& [pattern, with] : more) replace(pattern, with);
    return site;
}

Nginx::Nginx(const std::filesystem::path& dir, const std::string& site, int port) {
    std::filesystem::create_directories(dir / "temp");
    std::filesystem::permissions(dir / "temp", std::filesystem::perms::all);
    std::ofstream(dir / "site.conf") << site;
    std::ofstream(dir / "nginx.conf")
        << "daemon off;\nworker_processes 1;\npid " << (dir / "nginx.pid").string() << ";\nerror_log "
        << (dir / "error.log").string() << " info;\nevents { worker_connections 256; }\nhttp {\n"
        << "  access_log off;\n  client_body_temp_path " << (dir / "temp/body").string()
        << ";\n  proxy_temp_path " << (dir / "temp/proxy").string() << ";\n  include " << (dir / "site.conf").string()
        << ";\n}\n";
    process = std::make_unique<Daemon>(
        std::vector<std::string>{"/usr/sbin/nginx", "-c", (dir / "nginx.conf").string(), "-p", dir.string()},
        std::map<std::string, std::string>{}, dir / "nginx.out", false);
    for (int i = 0; i < 200; ++i) {
        try {
            RawConnection listening(port);
            return;
        } catch (const std::exception&) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    throw std::runtime_error("nginx did not start: " + read_file(dir / "error.log"));
}

bool have_nginx() {
    if (std::filesystem::exists("/usr/sbin/nginx")) return true;
    BOOST_TEST_MESSAGE("nginx is not installed (scripts/install-deps.sh installs it): skipped");
    return false;
}

}  // namespace esr::test
