#include "db.h"
#include "fault.h"

#include <atomic>
#include <mutex>

#include <cstdlib>

namespace wfq::store {

Param opt(const std::optional<std::string>& v) { return v ? Param(*v) : Param(nullptr); }
Param opt(const std::optional<std::int64_t>& v) { return v ? Param(*v) : Param(nullptr); }

const std::string& Row::str(std::size_t i) const {
    const auto& v = m_values.at(i);
    if (!v) throw Error(ErrorCode::failure, "unexpected NULL in column " + std::to_string(i));
    return *v;
}

std::string Row::take_str(std::size_t i) {
    auto& v = m_values.at(i);
    if (!v) throw Error(ErrorCode::failure, "unexpected NULL in column " + std::to_string(i));
    return std::move(*v);
}

std::int64_t Row::i64(std::size_t i) const { return std::strtoll(str(i).c_str(), nullptr, 10); }

std::optional<std::int64_t> Row::opt_i64(std::size_t i) const {
    if (is_null(i)) return std::nullopt;
    return i64(i);
}

CommitFault take_commit_fault(const char* label) {
    struct Spec {
        CommitFault fault = CommitFault::none;
        std::string label;
        int nth = 1;
    };
    static const Spec spec = [] {
        Spec s;
        const char* v = std::getenv("WFQ_TEST_FAULT");
        if (!v || !*v) return s;
        std::string text = v;
        auto colon = text.find(':');
        std::string kind = text.substr(0, colon);
        if (colon == std::string::npos) return s;
        std::string rest = text.substr(colon + 1);
        auto second = rest.find(':');
        s.label = rest.substr(0, second);
        if (second != std::string::npos) s.nth = std::max(1, std::atoi(rest.c_str() + second + 1));
        s.fault = kind == "commit_lost" ? CommitFault::lost_reply : kind == "commit_cut" ? CommitFault::cut_before : CommitFault::none;
        return s;
    }();
    static std::atomic<int> seen{0};
    if (spec.fault == CommitFault::none || spec.label != label) return CommitFault::none;
    return ++seen == spec.nth ? spec.fault : CommitFault::none;
}

}  // namespace wfq::store
