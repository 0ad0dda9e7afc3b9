// A job's timeline and its spans. (The suite: store_suite.h.)
#include "store_suite.h"

namespace wfq {
namespace {

// `wfq trace show`: spans stored as events (add_job_spans), then those an outcome packed in the
// job's row; never in the timeline.
TEST_P(StoreSuite, JobSpansKeepEveryAttemptsSpans) {
    auto id = add(job("t"));
    ASSERT_EQ(claim("w1").size(), 1u);
    m_store->add_job_spans(id, 1, {R"({"name":"a"})", R"({"name":"b"})"});
    m_store->add_job_spans(id, 1, {});
    ASSERT_TRUE(test::complete(*m_store, {id, "w1", 1}, std::nullopt, {R"({"name":"c"})"}));
    EXPECT_EQ(m_store->job_spans(id), (std::vector<std::string>{R"({"name":"a"})", R"({"name":"b"})", R"({"name":"c"})"}));
    for (const auto& e : m_store->job_events(id)) EXPECT_NE(e.kind, "span");
    EXPECT_TRUE(m_store->job_spans(id + 1000).empty());
}

}  // namespace
}  // namespace wfq
