// The worker's Prometheus endpoint (cpp-httplib from Debian).
#include "metrics_server.h"

#include <wfq/errors.h>
#include <wfq/log.h>
#include <wfq/process_runner.h>

#include <httplib.h>

#include <sys/socket.h>

namespace wfq::engine {

MetricsServer::MetricsServer(HostPort address, std::function<std::string()> render)
    : m_address(std::move(address)), m_render(std::move(render)) {}

MetricsServer::~MetricsServer() { stop(); }

void MetricsServer::start() {
    m_server = std::make_unique<httplib::Server>();
    // A scrape at a time is the normal load: two threads, not one per core.
    m_server->new_task_queue = [] { return new httplib::ThreadPool(2); };
    m_server->set_keep_alive_timeout(30);
    // SO_REUSEADDR only, not cpp-httplib's default SO_REUSEPORT: a second worker given the same
    // port must fail to start, not share the scrapes with the first.
    m_server->set_socket_options([](int sock) {
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    m_server->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(m_render(), "text/plain; version=0.0.4; charset=utf-8");
    });
    m_server->Get("/", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("wfq worker: metrics at /metrics\n", "text/plain; charset=utf-8");
    });
    const std::string where = m_address.host.find(':') != std::string::npos ? "[" + m_address.host + "]" : m_address.host;
    m_port = m_address.port == 0 ? m_server->bind_to_any_port(m_address.host) : m_address.port;
    if (m_port <= 0 || (m_address.port != 0 && !m_server->bind_to_port(m_address.host, m_address.port)))
        throw Error(ErrorCode::config, "--metrics-listen: cannot listen on " + where + ":" + std::to_string(m_address.port) +
                                           " (address in use, or not an address of this host)");
    m_thread = std::thread([this] {
        name_this_thread("wfq-metrics");
        m_server->listen_after_bind();
    });
    log::info("serving metrics", {{"url", "http://" + where + ":" + std::to_string(m_port) + "/metrics"}});
}

void MetricsServer::stop() {
    if (!m_server) return;
    m_server->stop();
    if (m_thread.joinable()) m_thread.join();
    m_server.reset();
}

}  // namespace wfq::engine
