// The StatsD lines a worker sends (libqueue/src/engine/statsd_sink.cpp), read from a UDP socket
// of the test's own; tests/cli/test_statsd.sh sends them to the Etsy StatsD daemon.
#include "engine/statsd_sink.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace wfq::engine {
namespace {

// A UDP socket on 127.0.0.1 with a port the system picked.
struct Receiver {
    int fd = -1;
    int port = 0;
    Receiver() {
        fd = ::socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
        socklen_t n = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
        port = ntohs(a.sin_port);
        timeval tv{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~Receiver() { ::close(fd); }
    std::string datagram() {
        char buf[65536];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
    }
};

TEST(StatsdSink, SendsACounterAndATimingPerTypeAndOutcomeInOneDatagram) {
    Receiver r;
    StatsdOptions o;
    o.host = "127.0.0.1";
    o.port = r.port;
    StatsdSink sink(o);
    sink.job_finished("review.code", "completed", 0.25);
    sink.job_finished("mail", "failed", 1.5);
    sink.flush();
    EXPECT_EQ(r.datagram(),
              "wfq.jobs.review_code.completed:1|c\nwfq.job_duration.review_code.completed:250.000|ms\n"
              "wfq.jobs.mail.failed:1|c\nwfq.job_duration.mail.failed:1500.000|ms");
}

TEST(StatsdSink, DogStatsdPutsTypeOutcomeAndConstantTagsInTags) {
    Receiver r;
    StatsdOptions o;
    o.host = "127.0.0.1";
    o.port = r.port;
    o.dogstatsd = true;
    o.tags = {"env:prod"};
    StatsdSink sink(o);
    sink.job_finished("mail", "retried", 0.001);
    sink.rescued(3);
    sink.flush();
    EXPECT_EQ(r.datagram(),
              "wfq.jobs:1|c|#type:mail,outcome:retried,env:prod\nwfq.job_duration:1.000|ms|#type:mail,outcome:retried,env:prod\n"
              "wfq.jobs_rescued:3|c|#env:prod");
}

TEST(StatsdSink, SplitsDatagramsBelowTheMtu) {
    Receiver r;
    StatsdOptions o;
    o.host = "127.0.0.1";
    o.port = r.port;
    StatsdSink sink(o);
    for (int i = 0; i < 100; ++i) sink.job_finished("t", "completed", 0.1);
    sink.flush();
    std::size_t lines = 0, datagrams = 0;
    while (lines < 200) {
        std::string d = r.datagram();
        ASSERT_FALSE(d.empty()) << "after " << lines << " lines";
        EXPECT_LE(d.size(), 1432u);
        lines += static_cast<std::size_t>(std::count(d.begin(), d.end(), '\n')) + 1;
        ++datagrams;
    }
    EXPECT_EQ(lines, 200u);
    EXPECT_GT(datagrams, 1u);
}

TEST(StatsdSink, NamePartsKeepLettersDigitsUnderscoresAndDashes) {
    EXPECT_EQ(statsd_name_part("code-review_2"), "code-review_2");
    EXPECT_EQ(statsd_name_part("a.b:c|d#e f"), "a_b_c_d_e_f");
    EXPECT_EQ(statsd_name_part(""), "_");
}

}  // namespace
}  // namespace wfq::engine
