// HOST:PORT flags.
#include <wfq/host_port.h>

#include <wfq/errors.h>

namespace wfq {

HostPort parse_host_port(const std::string& flag, const std::string& text, bool allow_any_port) {
    auto bad = [&](const std::string& why) {
        return Error(ErrorCode::usage, flag + " " + why + " (HOST:PORT, such as 127.0.0.1:9464 or [::1]:9464; got '" + text + "')");
    };
    HostPort out;
    std::string port;
    if (!text.empty() && text[0] == '[') {
        auto close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') throw bad("needs a port");
        out.host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string::npos) throw bad("needs a port");
        out.host = text.substr(0, colon);
        if (out.host.find(':') != std::string::npos) throw bad("needs brackets around an IPv6 address");
        port = text.substr(colon + 1);
    }
    if (out.host.empty()) throw bad("needs a host");
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) throw bad("needs a port number");
    out.port = std::stoi(port);
    if (out.port > 65535 || (out.port == 0 && !allow_any_port)) throw bad("needs a port between 1 and 65535");
    return out;
}

}  // namespace wfq
