// Passwords hidden in DSNs and messages, wherever libpq would find one
// (libqueue/src/store/redact_dsn.cpp); tests/fuzz/dsn_fuzzer.cpp checks it against libpq itself.
#include <wfq/store.h>

#include <gtest/gtest.h>

#include <string>

namespace wfq {
namespace {

TEST(RedactDsn, UrlsAndKeywordStrings) {
    EXPECT_EQ(redact_dsn("postgresql://bob:s3cret@db:5432/q"), "postgresql://bob:***@db:5432/q");
    EXPECT_EQ(redact_dsn("postgres://bob@db/q"), "postgres://bob@db/q");
    EXPECT_EQ(redact_dsn("host=db password=s3cret dbname=q"), "host=db password=*** dbname=q");
    EXPECT_EQ(redact_dsn("host=db password='a b' dbname=q"), "host=db password=*** dbname=q");
    // A `password=` inside the password's own quoted value does not start another value that
    // runs on over the next keyword (found by the DSN fuzzer).
    EXPECT_EQ(redact_dsn("password='x password=' dbname='q'"), "password=*** dbname='q'");
    EXPECT_EQ(redact_dsn("sqlite:/tmp/x.db"), "sqlite:/tmp/x.db");
}

// The forms the fuzzing probe found leaking: libpq reads each of these passwords whole.
TEST(RedactDsn, EveryFormLibpqReads) {
    // The userinfo runs to the first '@' before a '/', blanks included.
    EXPECT_EQ(redact_dsn("postgresql://u:pa ss@host/db"), "postgresql://u:***@host/db");
    // A query value runs to the next '&', '@' included; its keyword is percent-decoded.
    EXPECT_EQ(redact_dsn("postgresql://h:5432/db?password=p@ss"), "postgresql://h:5432/db?password=***");
    EXPECT_EQ(redact_dsn("postgresql://h/db?sslmode=off&pass%77ord=x y&application_name=a"),
              "postgresql://h/db?sslmode=off&pass%77ord=***&application_name=a");
    // Keyword values: a backslash escapes a blank or a quote.
    EXPECT_EQ(redact_dsn(R"(host=h password=pa\ ss dbname=x)"), "host=h password=*** dbname=x");
    EXPECT_EQ(redact_dsn(R"(host=h password = 'it\'s a secret' dbname=x)"), "host=h password = *** dbname=x");
    EXPECT_EQ(redact_dsn("dbname='a'password=x"), "dbname='a'password=***");
    // An empty value takes the next word, as libpq does.
    EXPECT_EQ(redact_dsn("host=h password= dbname=x"), "host=h password= ***");
    // Unterminated: hidden to the end.
    EXPECT_EQ(redact_dsn("password='abc def"), "password=***");
    // libpq needs no blank after a quoted value: the next keyword stays one (found by the dsn fuzzer).
    EXPECT_EQ(redact_dsn("host=d password='a b\\' c'sslmode=require"), "host=d password='***'sslmode=require");
}

TEST(RedactDsn, FreeTextAndWordsThatAreNotTheKeyword) {
    EXPECT_EQ(redact_dsn("could not connect to postgresql://u:pw@h/db: refused"), "could not connect to postgresql://u:***@h/db: refused");
    EXPECT_EQ(redact_dsn("host=h mypassword=x"), "host=h mypassword=x");
    // A misplaced query inside the userinfo: no password to libpq (it is the user name), hidden anyway.
    EXPECT_EQ(redact_dsn("postgresql://host?password=p@ss"), "postgresql://***@ss");
}

TEST(RedactDsn, LongInputIsLinearAndSafe) {
    // A regex recursed per character here and overflowed the stack (WFQ_DB=http://aaaa…).
    std::string url = "http://" + std::string(1 << 20, 'a');
    EXPECT_EQ(redact_dsn(url), url);
    std::string kw = "password=" + std::string(1 << 20, 'x');
    EXPECT_EQ(redact_dsn(kw), "password=***");
    std::string many;
    for (int i = 0; i < 10000; ++i) many += "password=a ";
    EXPECT_EQ(redact_dsn(many).find("=a"), std::string::npos);
}

}  // namespace
}  // namespace wfq
