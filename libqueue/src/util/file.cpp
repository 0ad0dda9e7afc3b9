#include <wfq/errors.h>
#include <wfq/file.h>

#include <cstdio>
#include <fstream>

namespace wfq {

void write_file_atomically(const std::string& path, const std::string& text) {
    std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out) throw Error(ErrorCode::failure, "cannot write " + tmp);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error(ErrorCode::failure, "cannot rename " + tmp + " to " + path);
}

}  // namespace wfq
