#pragma once
// Internal: one OTLP/HTTP POST with libcurl (Debian's libcurl4-openssl-dev): http and https,
// a timeout for the whole request, and the answer's status, Retry-After and body.
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wfq::otlp {

struct HttpAnswer {
    long status = 0;            // 0: no HTTP answer (refused, timed out, not HTTP)
    std::string error;          // curl's words when status is 0
    std::optional<int> retry_after_s;  // Retry-After, seconds or an HTTP date, when given
    std::string body;           // up to 64 KiB
};

class HttpPoster {
public:
    HttpPoster();
    ~HttpPoster();
    HttpPoster(const HttpPoster&) = delete;
    HttpPoster& operator=(const HttpPoster&) = delete;
    // give_up is asked about once a second while the request runs: true abandons it.
    HttpAnswer post(const std::string& url, const std::string& body, const std::string& content_type,
                    const std::vector<std::pair<std::string, std::string>>& headers, long timeout_ms,
                    const std::function<bool()>& give_up = {});

private:
    void* m_curl;  // CURL*, kept between posts: connections are reused
};

}  // namespace wfq::otlp
