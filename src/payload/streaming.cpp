// The streaming builder: parses and extracts in one pass, so a large demand matrix never exists
// in memory as a whole document or a vector of rows (each row goes to the sink as it ends).
#include "classify.hpp"
#include "esr/payload/extract.hpp"
#include "fill.hpp"
#include "parse.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>

#include <iterator>
#include <vector>

namespace esr::payload {
namespace json = boost::json;
namespace {

/// Builds the document as the parser goes, except demand rows: each is handed to the sink when its
/// object ends (if it is an array element or the whole body) and left out of the document.
class StreamingBuilder {
public:
    // Hostile-document limits, enforced by the parser as it goes (a clear 400, never a large
    // allocation): far above any record EventsShop documents. Arrays are not limited: a year-long
    // city matrix is one array of 100,000+ rows.
    constexpr static std::size_t max_object_size = 10'000;  // members of one object
    constexpr static std::size_t max_array_size = std::size_t(-1);
    constexpr static std::size_t max_key_size = 1024;
    constexpr static std::size_t max_string_size = 1 << 20;
    using ec = boost::system::error_code;

    StreamingBuilder(std::optional<Kind> declared, DemandRowSink& sink, json::storage_ptr storage)
        : declared_(declared), collector_(declared), sink_(sink), storage_(std::move(storage)), root_(storage_) {}

    bool on_document_begin(ec&) { return true; }
    bool on_document_end(ec&) { return true; }
    bool on_object_begin(ec&) {
        stack_.push_back({json::object(storage_), {}});
        ++objects_open_;
        return true;
    }
    bool on_object_end(std::size_t, ec& error) {
        json::value done = std::move(stack_.back().value);
        stack_.pop_back();
        --objects_open_;
        if (stack_.empty() || stack_.back().value.is_array()) {
            View view(done.get_object());
            if (is_demand_row(view)) return emit(view, error);
        }
        attach(std::move(done));
        return true;
    }
    bool on_array_begin(ec&) {
        stack_.push_back({json::array(storage_), {}});
        return true;
    }
    bool on_array_end(std::size_t, ec&) {
        json::value done = std::move(stack_.back().value);
        stack_.pop_back();
        attach(std::move(done));
        return true;
    }
    bool on_key_part(std::string_view s, std::size_t, ec&) {
        text_.append(s);
        return true;
    }
    bool on_key(std::string_view s, std::size_t, ec&) {
        text_.append(s);
        stack_.back().key = std::move(text_);
        text_.clear();
        return true;
    }
    bool on_string_part(std::string_view s, std::size_t, ec&) {
        text_.append(s);
        return true;
    }
    bool on_string(std::string_view s, std::size_t, ec&) {
        text_.append(s);
        attach(json::string(text_, storage_));
        text_.clear();
        return true;
    }
    bool on_number_part(std::string_view s, ec&) {
        number_.part(s);
        return true;
    }
    bool on_int64(std::int64_t v, std::string_view, ec&) {
        number_.clear();
        return attach(json::value(v, storage_));
    }
    bool on_uint64(std::uint64_t v, std::string_view, ec&) {
        number_.clear();
        return attach(json::value(v, storage_));
    }
    bool on_double(double v, std::string_view s, ec&) { return attach(json::value(number_.nearest(v, s), storage_)); }
    bool on_bool(bool v, ec&) { return attach(json::value(v, storage_)); }
    bool on_null(ec&) { return attach(json::value(nullptr, storage_)); }
    bool on_comment_part(std::string_view, ec&) { return true; }
    bool on_comment(std::string_view, ec&) { return true; }

    json::value& document() { return root_; }
    RecordCollector& collector() { return collector_; }
    std::size_t streamed() const { return streamed_; }
    std::size_t duplicate_keys() const { return duplicate_keys_; }
    std::optional<KindMismatch>& refusal() { return refusal_; }

private:
    struct Frame {
        json::value value;  // an object or an array under construction
        std::string key;    // an object's member waiting for its value
    };

    bool attach(json::value v) {
        // An element with no object around it is no record's member: if it holds no record
        // either, nothing reads it again, so it is not kept (10 MB of [{},...] would otherwise take
        // some 50 bytes of document per 3 bytes of body).
        // With a declared kind, an element that does hold records has them extracted now and is
        // not kept either (20 MB of events would otherwise be held as a document and as records).
        if (objects_open_ == 0 && !stack_.empty()) {
            const int depth = static_cast<int>(stack_.size());
            if (collector_.add_element(v, depth) || !holds_records(v, depth)) return true;
        }
        if (stack_.empty()) {
            root_ = std::move(v);
        } else if (auto* o = stack_.back().value.if_object()) {
            // One lookup per member; a repeated key: the last one wins in the document.
            if (!o->insert_or_assign(stack_.back().key, std::move(v)).second) ++duplicate_keys_;
        } else {
            stack_.back().value.get_array().push_back(std::move(v));
        }
        return true;
    }

    /// False (the parse stops, refusal() says why) for a demand row under another declared kind.
    bool emit(const View& row, ec& error) {
        if (declared_ && *declared_ != Kind::hoteldemand) {
            refusal_ = mismatch(Kind::hoteldemand,
                                "records with demand figures: absoluteDemand, relativeDemand, eventsRegistered", *declared_);
            error = boost::system::errc::make_error_code(boost::system::errc::operation_canceled);
            return false;
        }
        // The nearest object around the row's array: its members so far are the envelope.
        const json::object* envelope = nullptr;
        for (auto it = stack_.rbegin(); it != stack_.rend() && !envelope; ++it) envelope = it->value.if_object();
        DemandRecord defaults;
        if (envelope) defaults = defaults_of(*envelope);
        sink_.row(demand_row(row, envelope ? &defaults : nullptr));
        ++streamed_;
        return true;
    }

    std::optional<Kind> declared_;
    RecordCollector collector_;
    std::optional<KindMismatch> refusal_;
    DemandRowSink& sink_;
    std::vector<Frame> stack_;
    std::string text_;
    NumberText number_;
    json::storage_ptr storage_;
    json::value root_;
    std::size_t streamed_ = 0;
    std::size_t duplicate_keys_ = 0;
    std::size_t objects_open_ = 0;  // objects on stack_: an element below none is no record's member
};

class CollectRows : public DemandRowSink {
public:
    void row(DemandRecord&& r) override { rows.push_back(std::move(r)); }
    std::vector<DemandRecord> rows;
};

}  // namespace

std::variant<Extraction, JsonSyntaxError, KindMismatch> extract_streaming(std::string_view body,
                                                                          std::optional<Kind> declared,
                                                                          DemandRowSink& sink,
                                                                          json::storage_ptr storage) {
    json::basic_parser<StreamingBuilder> parser(parse_options(), declared, sink, std::move(storage));
    boost::system::error_code ec;
    std::size_t consumed = parser.write_some(false, body.data(), body.size(), ec);
    if (auto& refused = parser.handler().refusal()) return std::move(*refused);
    if (!ec && consumed < body.size()) ec = json::error::extra_data;
    if (ec) return JsonSyntaxError{consumed, ec.message()};
    auto x = parser.handler().collector().finish(parser.handler().document(), parser.handler().streamed());
    if (auto* refused = std::get_if<KindMismatch>(&x)) return std::move(*refused);
    auto& extraction = std::get<Extraction>(x);
    extraction.duplicate_keys = parser.handler().duplicate_keys();
    return std::move(extraction);
}

std::variant<Extraction, JsonSyntaxError, KindMismatch> extract_body(std::string_view body, std::optional<Kind> declared) {
    CollectRows rows;
    // A small body's document lives in one arena, freed at once: far fewer malloc calls. (Not for
    // a large one: an arena never frees, and a streamed matrix drops its rows as it goes.)
    unsigned char buffer[8192];
    json::monotonic_resource arena(buffer, sizeof buffer);
    auto result = extract_streaming(body, declared, rows, &arena);
    if (auto* x = std::get_if<Extraction>(&result)) {
        for (auto& r : rows.rows) fill_missing(r, x->demand_defaults);
        // The streamed rows (array elements) first, then the rows the document held (demand rows
        // that are an object's member), in the order extract() gives.
        rows.rows.insert(rows.rows.end(), std::make_move_iterator(x->demand.begin()),
                         std::make_move_iterator(x->demand.end()));
        x->demand = std::move(rows.rows);
        x->streamed_demand = 0;
    }
    return result;
}

}  // namespace esr::payload
