#pragma once
// Text the queue stores as names, keys and messages. PostgreSQL refuses ill-formed UTF-8 and
// cuts text at a NUL byte; SQLite would keep both. So both backends get only what both keep.
#include <wfq/errors.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace wfq {

// True when s is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
// U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

// s with every ill-formed UTF-8 sequence and every NUL byte replaced by U+FFFD, for text kept
// as it came (a handler's stderr tail).
std::string to_valid_utf8(std::string_view s);

// What is wrong with a name or key before it is stored ("must not be empty", "is too long (N
// bytes, at most MAX)", "is not valid UTF-8", "must not contain control characters (U+000A)"),
// or nullopt when nothing is.
std::optional<std::string> name_problem(std::string_view value, std::size_t max_bytes);

// Throws Error(code, WHAT + " " + problem) when name_problem finds one.
void check_name(const std::string& what, std::string_view value, std::size_t max_bytes,
                ErrorCode code = ErrorCode::usage);

}  // namespace wfq
