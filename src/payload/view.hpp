#pragma once

// A record's members by normalized name ("event_id", "EventId" -> "eventid"), so one list of
// sent names matches every spelling.

#include <boost/json/object.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace esr::payload {

/// Sent names, normalized; a set (order does not matter), small enough to search linearly.
using Names = std::vector<std::string_view>;

inline bool named(std::string_view key, const Names& names) {
    for (auto n : names)
        if (n == key) return true;
    return false;
}

class View {
public:
    struct Member {
        std::string_view key;  // normalized
        const boost::json::key_value_pair* member;
        std::string owned;  // the normalized key, when the cache could not hold it
    };

    explicit View(const boost::json::object& o);

    /// The first member with one of `names`, structured or not.
    const boost::json::value* find(const Names& names) const {
        for (const auto& m : keys_)
            if (named(m.key, names)) return &m.member->value();
        return nullptr;
    }
    bool has_scalar(const Names& names) const {
        for (const auto& m : keys_)
            if (named(m.key, names) && !m.member->value().is_structured()) return true;
        return false;
    }
    const std::vector<Member>& members() const { return keys_; }
    const boost::json::object& object() const { return object_; }

private:
    const boost::json::object& object_;
    std::vector<Member> keys_;
};

}  // namespace esr::payload
