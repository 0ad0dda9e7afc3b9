#pragma once
// HOST:PORT as flags give it (`--metrics-listen 127.0.0.1:9464`, `--statsd localhost:8125`,
// `[::1]:9464` for an IPv6 address).
#include <string>

namespace wfq {

struct HostPort {
    std::string host;
    int port = 0;
};

// Parses text; throws Error(usage) naming flag when it is not HOST:PORT with a port in 1..65535
// (0 too when allow_any_port: the system picks one).
HostPort parse_host_port(const std::string& flag, const std::string& text, bool allow_any_port = false);

}  // namespace wfq
