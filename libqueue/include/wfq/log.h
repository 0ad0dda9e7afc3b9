#pragma once
// Structured logs to stderr (spdlog underneath): text or one JSON object per line.
#include <string>
#include <utility>
#include <vector>

namespace wfq::log {

using Fields = std::vector<std::pair<std::string, std::string>>;

enum class Level { trace, debug, info, warn, error, off };

// Throws Error(usage) for an unknown level or format.
void configure(const std::string& level, const std::string& format);
Level parse_level(const std::string& name);
bool enabled(Level level);

void write(Level level, const std::string& message, const Fields& fields = {});
inline void debug(const std::string& m, const Fields& f = {}) { write(Level::debug, m, f); }
inline void info(const std::string& m, const Fields& f = {}) { write(Level::info, m, f); }
inline void warn(const std::string& m, const Fields& f = {}) { write(Level::warn, m, f); }
inline void error(const std::string& m, const Fields& f = {}) { write(Level::error, m, f); }

}  // namespace wfq::log
