#include <wfq/clock.h>
#include <wfq/errors.h>
#include <wfq/log.h>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>

namespace wfq::log {
namespace {

std::atomic<Level> g_level{Level::info};
std::atomic<bool> g_json{false};

std::shared_ptr<spdlog::logger> logger() {
    static std::shared_ptr<spdlog::logger> l = [] {
        auto lg = spdlog::stderr_logger_mt("wfq");
        lg->set_pattern("%v");  // we format the whole line ourselves
        lg->set_level(spdlog::level::trace);
        lg->flush_on(spdlog::level::trace);
        return lg;
    }();
    return l;
}

const char* level_name(Level l) {
    switch (l) {
        case Level::trace: return "trace";
        case Level::debug: return "debug";
        case Level::info: return "info";
        case Level::warn: return "warn";
        case Level::error: return "error";
        case Level::off: return "off";
    }
    return "info";
}

}  // namespace

Level parse_level(const std::string& name) {
    for (auto l : {Level::trace, Level::debug, Level::info, Level::warn, Level::error, Level::off})
        if (name == level_name(l)) return l;
    if (name == "warning") return Level::warn;
    throw Error(ErrorCode::usage, "unknown log level '" + name + "' (trace, debug, info, warn, error, off)");
}

void configure(const std::string& level, const std::string& format) {
    if (format != "text" && format != "json")
        throw Error(ErrorCode::usage, "unknown log format '" + format + "' (text, json)");
    g_level = parse_level(level);
    g_json = format == "json";
}

bool enabled(Level level) { return level >= g_level.load() && level != Level::off; }

void write(Level level, const std::string& message, const Fields& fields) {
    if (!enabled(level)) return;
    std::string time = format_time(SystemClock::instance().now_ms());
    std::string line;
    if (g_json) {
        nlohmann::json j;
        j["time"] = time;
        j["level"] = level_name(level);
        j["message"] = message;
        for (const auto& [k, v] : fields) j[k] = v;
        line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
        line = time + " " + level_name(level) + " " + message;
        for (const auto& [k, v] : fields) line += " " + k + "=" + v;
    }
    logger()->info(line);
}

}  // namespace wfq::log
