// wfq's network timeouts on PostgreSQL connections: added where the DSN sets none, never over
// what it says.
#include "store/db.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace wfq::store {
namespace {

const char* kAll = "connect_timeout=10 keepalives=1 keepalives_idle=5 keepalives_interval=2 keepalives_count=3 tcp_user_timeout=10000";

TEST(NetworkTimeouts, AreAddedToAKeywordString) {
    unsetenv("PGCONNECT_TIMEOUT");
    EXPECT_EQ(with_network_timeouts("host=db dbname=q"), std::string("host=db dbname=q ") + kAll);
    EXPECT_EQ(with_network_timeouts(""), kAll) << "libpq's PG* environment alone";
}

TEST(NetworkTimeouts, AreAddedToAUri) {
    unsetenv("PGCONNECT_TIMEOUT");
    EXPECT_EQ(with_network_timeouts("postgresql://u@db/q"),
              "postgresql://u@db/q?connect_timeout=10&keepalives=1&keepalives_idle=5&keepalives_interval=2&"
              "keepalives_count=3&tcp_user_timeout=10000");
    EXPECT_EQ(with_network_timeouts("postgres://db/q?sslmode=disable&keepalives_idle=60"),
              "postgres://db/q?sslmode=disable&keepalives_idle=60&connect_timeout=10&keepalives=1&keepalives_interval=2&"
              "keepalives_count=3&tcp_user_timeout=10000");
}

TEST(NetworkTimeouts, WhatTheDsnOrTheEnvironmentSaysWins) {
    setenv("PGCONNECT_TIMEOUT", "3", 1);
    EXPECT_EQ(with_network_timeouts("host=db connect_timeout=0 tcp_user_timeout=0 keepalives=0"),
              "host=db connect_timeout=0 tcp_user_timeout=0 keepalives=0 keepalives_idle=5 keepalives_interval=2 "
              "keepalives_count=3");
    EXPECT_EQ(with_network_timeouts("host=db").find("connect_timeout"), std::string::npos);
    unsetenv("PGCONNECT_TIMEOUT");
    EXPECT_EQ(with_network_timeouts("host='unterminated"), "host='unterminated") << "left for libpq to report";
}

}  // namespace
}  // namespace wfq::store
