#include "esr/delivery.hpp"

#include "esr/auth.hpp"
#include "esr/config.hpp"
#include "esr/payload/extract.hpp"

namespace esr {

Delivery make_delivery(std::string body, std::optional<Kind> declared, const std::string& path,
                       const Config& config) {
    Delivery d;
    d.declared_kind = declared;
    d.path = path;
    if (body.size() >= config.large_body_bytes) {
        // Parsed by the writer's large lane, streaming, off the network threads.
        d.unparsed = true;
        d.kind = declared.value_or(Kind::unclassified);
    } else {
        try {
            auto extracted = payload::extract_body(body, declared);
            if (auto* err = std::get_if<payload::JsonSyntaxError>(&extracted)) {
                d.rejected_code = "invalid_json";
                d.rejected_because = "the body is not JSON: " + err->message + " at byte " + std::to_string(err->offset);
            } else {
                d.records = std::move(std::get<payload::Extraction>(extracted));
                d.kind = d.records.kind;
            }
        } catch (const payload::KindMismatch& e) {
            d.rejected_code = "kind_mismatch";
            d.rejected_because = std::string(e.what()) + ", yet it was posted to " + path;
        }
    }
    d.body_sha256 = sha256(body);
    d.body = std::move(body);
    return d;
}

}  // namespace esr
