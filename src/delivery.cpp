#include "esr/delivery.hpp"

#include "esr/encoding.hpp"
#include "esr/config.hpp"
#include "esr/payload/extract.hpp"

namespace esr {
namespace {

void refuse(Delivery& d, Refusal r) {
    d.rejected_code = std::move(r.code);
    d.rejected_because = std::move(r.reason);
}

// Counts demand rows and lets them go: validation needs the shape, not the rows.
class DiscardDemandRows final : public payload::DemandRowSink {
public:
    void row(payload::DemandRecord&&) override { ++rows; }
    std::size_t rows = 0;
};

}  // namespace

Refusal invalid_json(const payload::JsonSyntaxError& error) {
    return {"invalid_json", "the body is not JSON: " + error.message + " at byte " + std::to_string(error.offset)};
}

Refusal kind_mismatch(const payload::KindMismatch& error, std::string_view path) {
    return {"kind_mismatch", error.message + ", yet it was posted to " + std::string(path)};
}

bool validate_unparsed(Delivery& d) {
    if (!d.unparsed || !d.rejected_because.empty()) return d.rejected_because.empty();
    DiscardDemandRows rows;
    auto extracted = payload::extract_streaming(d.body, d.declared_kind, rows);
    if (auto* err = std::get_if<payload::JsonSyntaxError>(&extracted)) {
        refuse(d, invalid_json(*err));
        return false;
    }
    if (auto* mismatch = std::get_if<payload::KindMismatch>(&extracted)) {
        refuse(d, kind_mismatch(*mismatch, d.path));
        return false;
    }
    const auto& x = std::get<payload::Extraction>(extracted);
    d.kind = x.kind;
    d.validated_records = x.record_count();
    return true;
}

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
        auto extracted = payload::extract_body(body, declared);
        if (auto* err = std::get_if<payload::JsonSyntaxError>(&extracted)) {
            refuse(d, invalid_json(*err));
        } else if (auto* mismatch = std::get_if<payload::KindMismatch>(&extracted)) {
            refuse(d, kind_mismatch(*mismatch, d.path));
        } else {
            d.records = std::move(std::get<payload::Extraction>(extracted));
            d.kind = d.records.kind;
        }
    }
    d.body_sha256 = sha256(body);
    d.body = std::move(body);
    return d;
}

}  // namespace esr
