// gzip (RFC 1952) in and out, concatenated members, corruption (libqueue/src/util/gzip.cpp).
#include <wfq/errors.h>
#include <wfq/gzip.h>

#include <gtest/gtest.h>

#include <string>

namespace wfq {
namespace {

TEST(Gzip, RoundTripsAndRejectsCorruption) {
    std::string data(100000, 'x');
    data += "tail";
    std::string z = gzip_compress(data, 9);
    EXPECT_TRUE(looks_gzipped(z));
    EXPECT_LT(z.size(), 1000u);
    EXPECT_EQ(gzip_decompress(z), data);
    EXPECT_EQ(gzip_decompress(z + z), data + data) << "concatenated members";
    EXPECT_THROW(gzip_decompress(z.substr(0, z.size() / 2)), Error) << "truncated";
    std::string flipped = z;
    flipped[z.size() - 8] ^= 0x55;  // the CRC-32 in the trailer
    EXPECT_THROW(gzip_decompress(flipped), Error) << "corrupt";
    std::string bad_header = z;
    bad_header[2] = 9;  // compression method other than deflate
    EXPECT_THROW(gzip_decompress(bad_header), Error);
    EXPECT_THROW(gzip_decompress("plain"), Error);
    EXPECT_THROW(gzip_compress("x", 0), Error);
}

// A stored state blob is outside input: a small blob that inflates to gigabytes stops at the cap.
TEST(Gzip, InflatingStopsAtTheCap) {
    std::string bomb = gzip_compress(std::string(8 << 20, '\0'), 9);
    EXPECT_LT(bomb.size(), 20000u);
    EXPECT_EQ(gzip_decompress(bomb).size(), std::size_t{8} << 20);
    try {
        gzip_decompress(bomb, 1 << 20);
        FAIL() << "inflated past the cap";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::bad_input);
        EXPECT_NE(std::string(e.what()).find("inflates to more than 1048576 bytes"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace wfq
