// Opening a store from a DSN: redacted passwords, unknown schemes (libqueue/src/store/open_store.cpp).
#include <wfq/errors.h>
#include <wfq/store.h>

#include <gtest/gtest.h>

#include "../test_util.h"

namespace wfq {
namespace {

using wfq::test_util::code_of;

TEST(Dsn, PasswordsAreRedacted) {
    EXPECT_EQ(redact_dsn("postgresql://bob:s3cret@db:5432/q"), "postgresql://bob:***@db:5432/q");
    EXPECT_EQ(redact_dsn("host=db password=s3cret dbname=q"), "host=db password=*** dbname=q");
    EXPECT_EQ(redact_dsn("host=db password='a b' dbname=q"), "host=db password=*** dbname=q");
    EXPECT_EQ(redact_dsn("sqlite:/tmp/x.db"), "sqlite:/tmp/x.db");
}

TEST(Dsn, UnknownSchemesAreConfigurationErrors) {
    StoreOptions o;
    o.url = "mysql://x";
    EXPECT_EQ(code_of([&] { open_store(o); }), ErrorCode::config);
    o.url = "postgresql://";
    o.schema = "bad-schema; drop";
    EXPECT_EQ(code_of([&] { open_store(o); }), ErrorCode::usage);
}

}  // namespace
}  // namespace wfq
