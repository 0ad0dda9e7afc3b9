// One attempt's log, capped to its newest lines.
#include <wfq/job_log.h>

#include <wfq/errors.h>
#include <wfq/text.h>

namespace wfq {

LogCapture::LogCapture(std::size_t cap) : m_cap(cap) {}

void LogCapture::add_line(std::string_view line) {
    if (m_cap == 0) return;
    m_text.append(line.data(), line.size());
    m_text += '\n';
    // Trimmed in steps of at least the cap, so a long attempt copies its text O(1) times per line.
    if (m_text.size() > 2 * m_cap) trim_to(m_cap);
}

void LogCapture::trim_to(std::size_t bytes) {
    if (m_text.size() <= bytes) return;
    std::size_t cut = m_text.size() - bytes;
    // Whole lines only, unless one line alone is longer than the cap.
    if (cut > 0 && m_text[cut - 1] != '\n') {
        std::size_t nl = m_text.find('\n', cut);
        if (nl != std::string::npos && nl + 1 < m_text.size()) cut = nl + 1;
    }
    m_dropped += static_cast<std::int64_t>(cut);
    m_text.erase(0, cut);
}

AttemptLog LogCapture::stored(std::string text, std::int64_t dropped) {
    AttemptLog log;
    log.text = is_valid_utf8(text) && text.find('\0') == std::string::npos ? std::move(text) : to_valid_utf8(text);
    log.dropped_bytes = dropped;
    return log;
}

AttemptLog LogCapture::take() {
    trim_to(m_cap);
    AttemptLog log = stored(std::move(m_text), m_dropped);
    m_text.clear();
    m_dropped = 0;
    return log;
}

AttemptLog LogCapture::peek() const {
    LogCapture copy(m_cap);
    copy.m_text = m_text;
    copy.m_dropped = m_dropped;
    return copy.take();
}

std::size_t parse_log_cap(const std::string& flag, const std::string& text) {
    auto bad = [&](const std::string& why) {
        return Error(ErrorCode::usage, flag + " " + why + " (bytes, such as 65536, 64KiB or 1MiB; got '" + text + "')");
    };
    std::size_t i = 0;
    std::uint64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        n = n * 10 + static_cast<std::uint64_t>(text[i] - '0');
        if (n > kMaxLogCap) throw bad("must be at most 16MiB");
        ++i;
    }
    if (i == 0) throw bad("must be a size");
    std::string unit = text.substr(i);
    std::uint64_t scale = 1;
    if (unit.empty() || unit == "B") scale = 1;
    else if (unit == "K" || unit == "KiB" || unit == "k") scale = 1024;
    else if (unit == "M" || unit == "MiB") scale = 1024 * 1024;
    else throw bad("has an unknown unit '" + unit + "'");
    if (n * scale > kMaxLogCap) throw bad("must be at most 16MiB");
    return static_cast<std::size_t>(n * scale);
}

}  // namespace wfq
