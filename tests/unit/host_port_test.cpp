// HOST:PORT flags (libqueue/src/host_port.cpp).
#include <wfq/errors.h>
#include <wfq/host_port.h>

#include <gtest/gtest.h>

#include "test_util.h"

namespace wfq {
namespace {

using wfq::test_util::error_of;

TEST(HostPort, ParsesHostsAndPorts) {
    auto a = parse_host_port("--statsd", "127.0.0.1:8125");
    EXPECT_EQ(a.host, "127.0.0.1");
    EXPECT_EQ(a.port, 8125);
    auto b = parse_host_port("--statsd", "statsd.internal:65535");
    EXPECT_EQ(b.host, "statsd.internal");
    EXPECT_EQ(b.port, 65535);
    auto c = parse_host_port("--metrics-listen", "[::1]:9464");
    EXPECT_EQ(c.host, "::1");
    EXPECT_EQ(c.port, 9464);
    EXPECT_EQ(parse_host_port("--metrics-listen", "0.0.0.0:0", true).port, 0);
}

TEST(HostPort, RefusesTheRestNamingTheFlag) {
    for (const char* bad : {"", "host", ":80", "host:", "host:x", "host:70000", "host:0", "::1:80", "[::1]", "[::1]80", "h:123456"}) {
        std::string message = error_of([&] { parse_host_port("--statsd", bad); }, ErrorCode::usage);
        EXPECT_EQ(message.rfind("--statsd ", 0), 0u) << bad << ": " << message;
    }
}

}  // namespace
}  // namespace wfq
