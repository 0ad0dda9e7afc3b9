#include "otlp_http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <mutex>

namespace wfq::otlp {
namespace {

constexpr std::size_t k_max_body = 64 * 1024;

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
    auto* answer = static_cast<HttpAnswer*>(user);
    std::size_t bytes = size * n;
    if (answer->body.size() < k_max_body) answer->body.append(data, std::min(bytes, k_max_body - answer->body.size()));
    return bytes;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
    auto* answer = static_cast<HttpAnswer*>(user);
    std::size_t bytes = size * n;
    static const char name[] = "retry-after:";
    if (bytes > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        std::string value(data + sizeof name - 1, bytes - (sizeof name - 1));
        while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
        while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) value.erase(0, 1);
        if (!value.empty() && value.find_first_not_of("0123456789") == std::string::npos && value.size() < 9) {
            answer->retry_after_s = std::stoi(value);
        } else {
            time_t when = curl_getdate(value.c_str(), nullptr);  // an HTTP date
            if (when > 0) answer->retry_after_s = static_cast<int>(std::max<long long>(0, when - std::time(nullptr)));
        }
    }
    return bytes;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    const auto* give_up = static_cast<const std::function<bool()>*>(user);
    return *give_up && (*give_up)() ? 1 : 0;
}

std::once_flag g_curl_init;

}  // namespace

HttpPoster::HttpPoster() {
    std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    m_curl = curl_easy_init();
}

HttpPoster::~HttpPoster() {
    if (m_curl) curl_easy_cleanup(static_cast<CURL*>(m_curl));
}

HttpAnswer HttpPoster::post(const std::string& url, const std::string& body, const std::string& content_type,
                            const std::vector<std::pair<std::string, std::string>>& headers, long timeout_ms,
                            const std::function<bool()>& give_up) {
    HttpAnswer answer;
    CURL* curl = static_cast<CURL*>(m_curl);
    if (!curl) {
        answer.error = "curl_easy_init failed";
        return answer;
    }
    curl_easy_reset(curl);
    curl_slist* list = curl_slist_append(nullptr, ("Content-Type: " + content_type).c_str());
    list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
    for (const auto& [k, v] : headers) list = curl_slist_append(list, (k + ": " + v).c_str());
    char error[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // a worker thread: no SIGALRM for DNS timeouts
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "wfq-otlp-exporter/" WFQ_TRACER_VERSION);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &answer);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &give_up);
    CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(list);
    if (rc != CURLE_OK) {
        answer.status = 0;
        answer.error = *error ? error : curl_easy_strerror(rc);
        return answer;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
    return answer;
}

}  // namespace wfq::otlp
