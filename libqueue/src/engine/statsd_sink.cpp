// StatsD / DogStatsD over UDP.
#include "statsd_sink.h"

#include <wfq/errors.h>
#include <wfq/log.h>

#include <cstdio>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

namespace wfq::engine {
namespace {

// Below the common 1500-byte MTU with IP and UDP headers (the size DogStatsD clients use).
constexpr std::size_t kMaxPacket = 1432;

std::string milliseconds(double seconds) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", seconds * 1000.0);
    return buf;
}

}  // namespace

std::string statsd_name_part(const std::string& text) {
    std::string out = text.empty() ? "_" : text;
    for (char& c : out)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) c = '_';
    return out;
}

StatsdSink::StatsdSink(const StatsdOptions& options) : m_options(options) {
    for (const auto& t : m_options.tags) m_constant_tags += "," + t;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(m_options.port);
    if (int rc = getaddrinfo(m_options.host.c_str(), port.c_str(), &hints, &found); rc != 0)
        throw Error(ErrorCode::config, "--statsd: cannot resolve " + m_options.host + ": " + gai_strerror(rc));
    for (addrinfo* a = found; a; a = a->ai_next) {
        int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            m_fd = fd;
            break;
        }
        ::close(fd);
    }
    freeaddrinfo(found);
    if (m_fd < 0) throw Error(ErrorCode::config, "--statsd: cannot open a UDP socket to " + m_options.host + ":" + port);
    log::info("sending metrics to statsd", {{"address", m_options.host + ":" + port},
                                             {"format", m_options.dogstatsd ? "dogstatsd" : "statsd"}});
}

StatsdSink::~StatsdSink() {
    flush();
    if (m_fd >= 0) ::close(m_fd);
}

void StatsdSink::add(const std::string& name, const std::string& value, const char* kind, const std::string& tags) {
    std::string line = m_options.prefix + "." + name + ":" + value + "|" + kind;
    if (m_options.dogstatsd && (!tags.empty() || !m_constant_tags.empty()))
        line += "|#" + (tags.empty() ? m_constant_tags.substr(1) : tags + m_constant_tags);
    std::lock_guard<std::mutex> lock(m_mutex);
    if (!m_buffer.empty() && m_buffer.size() + 1 + line.size() > kMaxPacket) send_locked();
    if (!m_buffer.empty()) m_buffer += '\n';
    m_buffer += line;
}

void StatsdSink::job_finished(const std::string& type, const std::string& outcome, double seconds) {
    if (m_options.dogstatsd) {
        const std::string tags = "type:" + statsd_name_part(type) + ",outcome:" + outcome;
        add("jobs", "1", "c", tags);
        add("job_duration", milliseconds(seconds), "ms", tags);
    } else {
        const std::string path = statsd_name_part(type) + "." + outcome;
        add("jobs." + path, "1", "c", "");
        add("job_duration." + path, milliseconds(seconds), "ms", "");
    }
}

void StatsdSink::rescued(std::int64_t jobs) {
    if (jobs > 0) add("jobs_rescued", std::to_string(jobs), "c", "");
}

void StatsdSink::flush() {
    std::lock_guard<std::mutex> lock(m_mutex);
    send_locked();
}

void StatsdSink::send_locked() {
    if (m_buffer.empty()) return;
    // Non-blocking: a full socket buffer or an unreachable port (ECONNREFUSED from an earlier
    // datagram) loses this packet, never the worker's time.
    if (::send(m_fd, m_buffer.data(), m_buffer.size(), MSG_NOSIGNAL) < 0) ++m_failures;
    m_buffer.clear();
}

std::int64_t StatsdSink::send_failures() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_failures;
}

}  // namespace wfq::engine
