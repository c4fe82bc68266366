#include "view.hpp"
#include "esr/payload/extract.hpp"

#include <optional>
#include <unordered_map>

namespace esr::payload {
namespace {

struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

/// The normalized spelling of a key, folded once per thread: records repeat the same few keys
/// thousands of times. Nothing when the cache is full (then the caller folds the key itself).
std::optional<std::string_view> cached_normalized(std::string_view key) {
    thread_local std::unordered_map<std::string, std::string, KeyHash, std::equal_to<>> seen;
    if (auto it = seen.find(key); it != seen.end()) return std::string_view(it->second);
    if (seen.size() >= 4096) return std::nullopt;  // never cleared: views of it may be alive
    return std::string_view(seen.emplace(std::string(key), normalize_key(key)).first->second);
}

}  // namespace

View::View(const boost::json::object& o) : object_(o) {
    keys_.reserve(o.size());  // no reallocation: `key` may point into `owned`
    for (const auto& m : o) {
        auto& entry = keys_.emplace_back(Member{{}, &m, {}});
        if (auto k = cached_normalized(m.key())) {
            entry.key = *k;
        } else {
            entry.owned = normalize_key(m.key());
            entry.key = entry.owned;
        }
    }
}

}  // namespace esr::payload
