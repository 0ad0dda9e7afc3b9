#pragma once
// Internal: `wfq process --statsd HOST:PORT`: each attempt's outcome as a StatsD counter and
// timing per job type and outcome, sent over UDP (DogStatsD tags with --statsd-format
// dogstatsd). Lines are buffered and sent after each completer batch, one datagram per
// ~1400 bytes; a send that fails is counted, never retried, never blocks.
#include <wfq/worker.h>

#include <cstdint>
#include <mutex>
#include <string>

namespace wfq::engine {

class StatsdSink {
public:
    // Resolves options.host and opens a UDP socket to it (Error(config) when it cannot).
    explicit StatsdSink(const StatsdOptions& options);
    ~StatsdSink();
    StatsdSink(const StatsdSink&) = delete;
    StatsdSink& operator=(const StatsdSink&) = delete;

    void job_finished(const std::string& type, const std::string& outcome, double seconds);
    void rescued(std::int64_t jobs);
    // Sends what is buffered.
    void flush();
    std::int64_t send_failures() const;

private:
    void add(const std::string& name, const std::string& value, const char* kind, const std::string& tags);
    void send_locked();

    StatsdOptions m_options;
    std::string m_constant_tags;  // ",k:v,..." (dogstatsd)
    int m_fd = -1;
    mutable std::mutex m_mutex;
    std::string m_buffer;
    std::int64_t m_failures = 0;
};

// A metric name part from text (a job type): letters, digits, '_' and '-' kept, others '_'.
std::string statsd_name_part(const std::string& text);

}  // namespace wfq::engine
