// libFuzzer: raw request bytes -> Beast's parser -> routing, credentials, body handling, as the
// session drives them (without a socket).
#include "esr/auth.hpp"
#include "esr/http/handler.hpp"

#include <boost/beast/http.hpp>

#include <cstdint>
#include <string>

namespace {

struct Sink : esr::DeliverySink {
    void submit(esr::Delivery d, Callback done) override {
        done(esr::StoreOutcome::stored(1, d.kind, static_cast<std::int64_t>(d.records.record_count())));
    }
};
struct Ready : esr::ReadinessProbe {
    std::string not_ready_reason() const override { return {}; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace bhttp = boost::beast::http;
    static esr::Config config = [] {
        esr::Config c;
        c.max_body_bytes = 1 << 20;
        c.base_path = "/eventsshop";
        return c;
    }();
    static esr::Authenticator auth("eventsshop", "p:ss", {"token-1", "token-2"});
    static Sink sink;
    static Ready ready;
    static esr::Metrics metrics;
    static esr::http::Handler handler(config, auth, sink, ready, metrics);

    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(16 << 10);
    parser.body_limit(config.max_body_bytes);
    parser.eager(true);
    boost::system::error_code ec;
    parser.put(boost::asio::buffer(data, size), ec);
    if (ec || !parser.is_header_done()) return 0;
    const auto& req = parser.get();
    esr::http::RequestHead head{std::string(req.method_string()), std::string(req.target()),
                                std::string(req[bhttp::field::authorization]), {}, "192.0.2.1"};
    if (auto length = parser.content_length()) head.content_length = *length;
    auto decision = handler.on_header(head, esr::http::route_of(head.target, config.base_path));
    if (auto* intake = std::get_if<esr::http::Intake>(&decision); intake && parser.is_done()) {
        handler.on_body(*intake, parser.release().body(), [](esr::http::Response) {});
    }
    return 0;
}
