// JSON the queue refuses to store, the same on every backend (\u0000, a byte order mark, too
// much nesting), and handler results kept or not (libqueue/src/util/json_check.cpp). Where it
// enters: payloads and NDJSON lines in queue_test.cpp, signals in pipeline_test.cpp.
#include <wfq/errors.h>
#include <wfq/json_check.h>

#include <gtest/gtest.h>

#include "../test_util.h"

#include <nlohmann/json.hpp>
#include <string>

namespace wfq {
namespace {

using nlohmann::json;

using wfq::test_util::error_of;

std::string nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(StorableJson, RefusesNulInStringsAndKeysWithAPointer) {
    EXPECT_EQ(parse_storable_json(R"({"a": ["x", {"b": "ok"}]})", "payload")["a"][1]["b"], "ok");
    std::string msg = error_of([] { parse_storable_json(R"({"a": ["x", {"b": "1\u0000"}]})", "payload"); }, ErrorCode::bad_input);
    EXPECT_NE(msg.find("payload: the string at /a/1/b contains \\u0000 (NUL)"), std::string::npos) << msg;
    msg = error_of([] { parse_storable_json(R"({"a": {"k\u0000": 1}})", "config"); }, ErrorCode::bad_input);
    EXPECT_NE(msg.find(R"(config: the key "k\u0000" in the object at /a contains \u0000)"), std::string::npos) << msg;
    msg = error_of([] { parse_storable_json(R"("\u0000")", "--data"); }, ErrorCode::bad_input);
    EXPECT_NE(msg.find("the string at the top level"), std::string::npos) << msg;
    // An escaped backslash followed by u0000 is text, not NUL.
    EXPECT_EQ(parse_storable_json(R"({"a": "\\u0000"})", "payload")["a"], "\\u0000");
    EXPECT_EQ(parse_storable_json(R"({"a": "\u0001 and \ud83d\ude00"})", "payload")["a"], "\x01 and \xf0\x9f\x98\x80");
}

TEST(StorableJson, RefusesWhatPostgresOrNlohmannCannotHold) {
    std::string msg = error_of([] { parse_storable_json(R"({"x": "\ud800"})", "payload"); }, ErrorCode::bad_input);
    EXPECT_NE(msg.find("payload is not valid JSON"), std::string::npos) << msg;
    error_of([] { parse_storable_json("{\"x\": \"\xff\"}", "payload"); }, ErrorCode::bad_input);
    msg = error_of([] { parse_storable_json(R"({"x": 1e400})", "payload"); }, ErrorCode::bad_input);
    EXPECT_NE(msg.find("not valid JSON"), std::string::npos) << msg;
    msg = error_of([] { parse_storable_json("\xef\xbb\xbf{}", "payload"); }, ErrorCode::bad_input);
    EXPECT_NE(msg.find("byte order mark"), std::string::npos) << msg;
    EXPECT_NO_THROW(parse_storable_json(nested(kMaxJsonDepth), "payload"));
    msg = error_of([] { parse_storable_json(nested(kMaxJsonDepth + 1), "payload"); }, ErrorCode::bad_input);
    EXPECT_EQ(msg, "payload is nested more than 1000 levels deep");
    // Deep enough to crash a recursive dump, refused before parsing.
    error_of([] { parse_storable_json(nested(200000), "payload"); }, ErrorCode::bad_input);
    // Brackets inside strings do not count.
    EXPECT_NO_THROW(parse_storable_json("{\"a\": \"" + std::string(5000, '[') + "\"}", "payload"));
    msg = error_of([] { parse_storable_json(std::string(kMaxJsonBytes + 1, ' '), "payload"); }, ErrorCode::bad_input);
    EXPECT_NE(msg.find("payload is too large"), std::string::npos) << msg;
    // Without a name (an NDJSON line): the problem alone.
    msg = error_of([] { parse_storable_json(R"({"payload": {"x": "\u0000"}})", ""); }, ErrorCode::bad_input);
    EXPECT_EQ(msg.rfind("the string at /payload/x contains", 0), 0u) << msg;
}

// Found by fuzzing: nlohmann's lexer stops at a raw NUL byte, so `{"a":1}\0{"b":2}` on stdin
// parsed as {"a":1} and was stored with the bytes after it.
TEST(BoundedJson, RefusesARawNulByteAnywhere) {
    std::string msg = error_of([] { parse_storable_json(std::string("{\"a\":1}\0{\"b\":2}", 15), "payload"); }, ErrorCode::bad_input);
    EXPECT_EQ(msg, "payload has a NUL byte at byte 8, which JSON text cannot hold");
    msg = error_of([] { parse_bounded_json(std::string("0\0]", 3), "OLD a.json"); }, ErrorCode::bad_input);
    EXPECT_EQ(msg, "OLD a.json has a NUL byte at byte 2, which JSON text cannot hold");
    msg = error_of([] { parse_storable_json(std::string("{\"a\":\"x\0\"}", 10), ""); }, ErrorCode::bad_input);
    EXPECT_EQ(msg.rfind("a NUL byte at byte 8", 0), 0u) << msg;
}

TEST(BoundedJson, BoundsSizeDepthAndNumbers) {
    EXPECT_EQ(parse_bounded_json("[1, 2]", "x"), json::array({1, 2}));
    // A byte order mark is skipped here (files); parse_storable_json refuses it (PostgreSQL does).
    EXPECT_EQ(parse_bounded_json("\xef\xbb\xbf{}", "x"), json::object());
    std::string msg = error_of([] { parse_bounded_json(std::string(2000, ' ') + "1", "f", 1024); }, ErrorCode::bad_input);
    EXPECT_EQ(msg, "f is too large (2001 bytes, at most 1 KiB)");
    msg = error_of([] { parse_bounded_json(nested(100000), "NEW b.json"); }, ErrorCode::bad_input);
    EXPECT_EQ(msg, "NEW b.json is nested more than 1000 levels deep");
    msg = error_of([] { parse_bounded_json("[1e400]", "f"); }, ErrorCode::bad_input);
    EXPECT_NE(msg.find("f is not valid JSON"), std::string::npos) << msg;
    EXPECT_EQ(json_text_problem("[]", 10), std::nullopt);
    EXPECT_EQ(*json_text_problem(nested(1001), 1 << 20), "is nested more than 1000 levels deep");
}

TEST(StorableJson, ProblemOfAParsedDocument) {
    EXPECT_EQ(storable_json_problem(json{{"a", 1}}), std::nullopt);
    json deep = json::array();
    json* cur = &deep;
    for (int i = 0; i < kMaxJsonDepth; ++i) cur = &cur->emplace_back(json::array());
    ASSERT_TRUE(storable_json_problem(deep));
    EXPECT_NE(storable_json_problem(deep)->find("nested more than"), std::string::npos);
}

TEST(HandlerResult, KeptWhenStorableElseWhyNot) {
    std::string why;
    EXPECT_EQ(*result_to_keep("{\"a\": 1}\n", false, why), R"({"a":1})");
    EXPECT_TRUE(why.empty());
    EXPECT_EQ(result_to_keep("  \n", false, why), std::nullopt);
    EXPECT_TRUE(why.empty());
    EXPECT_EQ(result_to_keep("not json", false, why), std::nullopt);
    EXPECT_NE(why.find("handler output is not valid JSON"), std::string::npos) << why;
    EXPECT_EQ(result_to_keep(R"({"a": "\u0000"})", false, why), std::nullopt);
    EXPECT_NE(why.find("handler output: the string at /a contains \\u0000"), std::string::npos) << why;
    EXPECT_EQ(result_to_keep("{}", true, why), std::nullopt);
    EXPECT_NE(why.find("cap"), std::string::npos) << why;
    EXPECT_EQ(result_to_keep(nested(5000), false, why), std::nullopt);
    EXPECT_NE(why.find("nested"), std::string::npos) << why;
}

TEST(JsonString, AppendsALiteralThatParsesBackToTheSameText) {
    for (std::string s : {std::string(""), std::string("plain"), std::string("q\"uote \\ back"),
                          std::string("tab\tnl\ncr\r\x01\x1f end"), std::string("caf\xc3\xa9 \xe2\x82\xac"), std::string("\""), std::string("\n\\"),
                          std::string("ends with \\"), std::string("\x7f del")}) {
        std::string out;
        append_json_string(out, s);
        EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), s) << out;
        // Appended after what the buffer already holds, as a row builder does.
        std::string row = "[1,";
        append_json_string(row, s);
        row += ']';
        EXPECT_EQ(nlohmann::json::parse(row).at(1).get<std::string>(), s) << row;
    }
}

}  // namespace
}  // namespace wfq
