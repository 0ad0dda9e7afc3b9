#pragma once
// Internal: `wfq process --metrics-listen ADDR:PORT`: serves GET /metrics (Prometheus text
// exposition) on a thread of its own with cpp-httplib; the text comes from render, which reads
// only memory (the reporter's counters and the queue gauges maintenance refreshes).
#include <wfq/host_port.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace wfq::engine {

class MetricsServer {
public:
    MetricsServer(HostPort address, std::function<std::string()> render);
    ~MetricsServer();

    // Binds the address (Error(config) when it cannot) and serves on a thread of its own.
    void start();
    // The port bound (the system's choice for port 0), after start().
    int port() const { return m_port; }
    void stop();

private:
    HostPort m_address;
    std::function<std::string()> m_render;
    std::unique_ptr<httplib::Server> m_server;
    std::thread m_thread;
    int m_port = 0;
};

}  // namespace wfq::engine
