// Opening a store from a DSN: unknown schemes (libqueue/src/store/open_store.cpp); redaction in
// redact_dsn_test.cpp.
#include <wfq/errors.h>
#include <wfq/store.h>

#include <gtest/gtest.h>

#include "../test_util.h"

namespace wfq {
namespace {

using wfq::test_util::code_of;

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
