#include "db.h"

#include <cstdlib>

namespace wfq::store {

Param opt(const std::optional<std::string>& v) { return v ? Param(*v) : Param(nullptr); }
Param opt(const std::optional<std::int64_t>& v) { return v ? Param(*v) : Param(nullptr); }

const std::string& Row::str(std::size_t i) const {
    const auto& v = m_values.at(i);
    if (!v) throw Error(ErrorCode::failure, "unexpected NULL in column " + std::to_string(i));
    return *v;
}

std::int64_t Row::i64(std::size_t i) const { return std::strtoll(str(i).c_str(), nullptr, 10); }

std::optional<std::int64_t> Row::opt_i64(std::size_t i) const {
    if (is_null(i)) return std::nullopt;
    return i64(i);
}

}  // namespace wfq::store
