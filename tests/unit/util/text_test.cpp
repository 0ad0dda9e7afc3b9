// Names and keys the queue stores, and the handler stderr tail kept as last_error: well-formed
// UTF-8 without control characters or NUL, the same on every backend (libqueue/src/util/text.cpp).
#include <wfq/errors.h>
#include <wfq/text.h>

#include <gtest/gtest.h>

#include "../test_util.h"

namespace wfq {
namespace {

using wfq::test_util::error_of;

TEST(Utf8, AcceptsWellFormedAndRejectsTheRest) {
    EXPECT_TRUE(is_valid_utf8(""));
    EXPECT_TRUE(is_valid_utf8("plain ascii"));
    EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));  // é € 😀
    EXPECT_FALSE(is_valid_utf8("\xff"));
    EXPECT_FALSE(is_valid_utf8("\xc3"));              // truncated
    EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
    EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // a surrogate, U+D800
    EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
    EXPECT_FALSE(is_valid_utf8("\x80"));              // a lone continuation byte
}

TEST(Utf8, ToValidReplacesBadBytesAndNul) {
    EXPECT_EQ(to_valid_utf8("ok \xc3\xa9"), "ok \xc3\xa9");
    EXPECT_EQ(to_valid_utf8(std::string("a\0b", 3)), "a\xef\xbf\xbd" "b");
    EXPECT_EQ(to_valid_utf8("a\xff" "b"), "a\xef\xbf\xbd" "b");
    EXPECT_TRUE(is_valid_utf8(to_valid_utf8("\xe2\x82")));
}

TEST(Names, ProblemsAreNamed) {
    EXPECT_EQ(name_problem("deploy", 10), std::nullopt);
    EXPECT_EQ(*name_problem("", 10), "must not be empty");
    EXPECT_EQ(*name_problem("abcdefghijk", 10), "is too long (11 bytes, at most 10)");
    EXPECT_EQ(*name_problem("a\xff", 10), "is not valid UTF-8");
    EXPECT_EQ(*name_problem("a\nb", 10), "must not contain control characters (U+000A)");
    EXPECT_EQ(*name_problem(std::string("a\0b", 3), 10), "must not contain control characters (U+0000)");
    EXPECT_EQ(name_problem("\xc3\xa9t\xc3\xa9", 10), std::nullopt);
    EXPECT_EQ(error_of([] { check_name("queue", "\xff", 200); }, ErrorCode::usage), "queue is not valid UTF-8");
}

}  // namespace
}  // namespace wfq
