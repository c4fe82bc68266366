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
        auto collected = extract_body(body, declared);
        Discard sink;
        auto streamed = extract_streaming(body, declared, sink);
        // Both accept, or both refuse for the same reason (syntax, or a kind mismatch).
        if (collected.index() != streamed.index()) std::abort();
        // With repeated keys the two legitimately differ: the stream saw every value.
        const auto* x = std::get_if<Extraction>(&collected);
        if (!declared && x && x->duplicate_keys == 0) {
            auto document = parse_json(body);
            if (const auto* value = std::get_if<boost::json::value>(&document)) {
                auto dom = extract(*value);
                const auto* y = std::get_if<Extraction>(&dom);
                if (!y || y->kind != x->kind) std::abort();  // undeclared: never a mismatch
            }
        }
    }
    return 0;
}
