#include <wfq/errors.h>
#include <wfq/gzip.h>

#include <zlib.h>

namespace wfq {

bool looks_gzipped(const std::string& d) {
    return d.size() >= 2 && static_cast<unsigned char>(d[0]) == 0x1f && static_cast<unsigned char>(d[1]) == 0x8b;
}

std::string gzip_compress(const std::string& data, int level) {
    if (level < 1 || level > 9) throw Error(ErrorCode::usage, "compression level must be 1..9");
    z_stream zs{};
    // windowBits 15 + 16: write a gzip header and trailer instead of zlib's.
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw Error(ErrorCode::failure, "deflateInit2 failed");
    std::string out;
    out.resize(deflateBound(&zs, static_cast<uLong>(data.size())) + 32);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    int rc = deflate(&zs, Z_FINISH);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) throw Error(ErrorCode::failure, "gzip compression failed");
    out.resize(zs.total_out);
    return out;
}

std::string gzip_decompress(const std::string& data, std::size_t max_output) {
    if (!looks_gzipped(data)) throw Error(ErrorCode::bad_input, "not gzip data (bad magic number)");
    std::string out;
    std::size_t pos = 0;
    char buf[65536];
    while (pos < data.size()) {
        z_stream zs{};
        if (inflateInit2(&zs, 15 + 16) != Z_OK) throw Error(ErrorCode::failure, "inflateInit2 failed");
        zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + pos));
        zs.avail_in = static_cast<uInt>(data.size() - pos);
        int rc;
        do {
            zs.next_out = reinterpret_cast<Bytef*>(buf);
            zs.avail_out = sizeof buf;
            rc = inflate(&zs, Z_NO_FLUSH);
            if (rc != Z_OK && rc != Z_STREAM_END) {
                std::string msg = zs.msg ? zs.msg : (rc == Z_BUF_ERROR ? "truncated stream" : "corrupt stream");
                inflateEnd(&zs);
                throw Error(ErrorCode::bad_input, "corrupt gzip data: " + msg);
            }
            out.append(buf, sizeof buf - zs.avail_out);
            if (out.size() > max_output) {
                inflateEnd(&zs);
                throw Error(ErrorCode::bad_input, "gzip data inflates to more than " + std::to_string(max_output) + " bytes");
            }
        } while (rc != Z_STREAM_END);
        pos += zs.total_in;
        inflateEnd(&zs);
        // Trailing zero padding is tolerated, as gzip -d does.
        if (pos < data.size() && !looks_gzipped(data.substr(pos, 2))) {
            if (data.find_first_not_of('\0', pos) == std::string::npos) break;
            throw Error(ErrorCode::bad_input, "corrupt gzip data: trailing garbage");
        }
    }
    return out;
}

}  // namespace wfq
