// libFuzzer: body bytes -> classification, coercion, normalization. Any crash, leak or sanitizer
// report is a finding; so is the one-pass and the document extractors disagreeing on a body both
// accept.
#include "esr/payload/extract.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace {
struct Discard : esr::payload::DemandRowSink {
    std::size_t rows = 0;
    void row(esr::payload::DemandRecord&&) override { ++rows; }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace esr::payload;
    const std::string body(reinterpret_cast<const char*>(data), size);
    for (auto declared : {std::optional<esr::Kind>{}, std::optional{esr::Kind::eventsinfo},
                          std::optional{esr::Kind::hoteldemand}}) {
        try {
            auto collected = extract_body(body, declared);
            Discard sink;
            auto streamed = extract_streaming(body, declared, sink);
            if (std::holds_alternative<Extraction>(collected) != std::holds_alternative<Extraction>(streamed)) std::abort();
            // With repeated keys the two legitimately differ: the stream saw every value.
            if (!declared && std::holds_alternative<Extraction>(collected) &&
                std::get<Extraction>(collected).duplicate_keys == 0) {
                auto document = parse_json(body);
                if (std::holds_alternative<boost::json::value>(document)) {
                    auto x = extract(std::get<boost::json::value>(document));
                    if (x.kind != std::get<Extraction>(collected).kind) std::abort();
                }
            }
        } catch (const KindMismatch&) {
        }
    }
    return 0;
}
