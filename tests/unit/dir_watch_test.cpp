// The inotify watch that wakes idle SQLite waiters: it must see the writes SQLite makes, which
// land beside the database file itself, also when the path given is a symbolic link.
#include "store/sqlite/dir_watch.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace wfq::store {
namespace {

namespace fs = std::filesystem;

struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "wfq-dirwatch-XXXXXX").string();
        path = mkdtemp(tmpl.data());
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

void append(const fs::path& file) {
    std::ofstream out(file, std::ios::app);
    out << "frame";
}

TEST(DirWatch, SeesAWriteBesideTheDatabase) {
    TempDir dir;
    append(dir.path / "q.db");
    DirWatch watch((dir.path / "q.db").string());
    ASSERT_TRUE(watch.active());
    EXPECT_FALSE(watch.drain());
    append(dir.path / "q.db-wal");
    EXPECT_TRUE(watch.wait(10000));
    EXPECT_FALSE(watch.drain());  // wait() took the events
}

TEST(DirWatch, FollowsASymbolicLinkToWhereSqliteWritesTheWal) {
    TempDir dir;
    fs::create_directory(dir.path / "real");
    fs::create_directory(dir.path / "link");
    append(dir.path / "real" / "q.db");
    fs::create_symlink(dir.path / "real" / "q.db", dir.path / "link" / "q.db");
    DirWatch watch((dir.path / "link" / "q.db").string());
    ASSERT_TRUE(watch.active());
    append(dir.path / "real" / "q.db-wal");  // SQLite writes the WAL beside the file linked to
    EXPECT_TRUE(watch.wait(10000));
}

TEST(DirWatch, ReportsNoWriteWhenNoneCame) {
    TempDir dir;
    append(dir.path / "q.db");
    DirWatch watch((dir.path / "q.db").string());
    ASSERT_TRUE(watch.active());
    EXPECT_FALSE(watch.wait(0));
    EXPECT_FALSE(watch.drain());
}

TEST(DirWatch, PauseLooksOnceMoreAfterAWrite) {
    TempDir dir;
    append(dir.path / "q.db");
    DirWatch watch((dir.path / "q.db").string());
    ASSERT_TRUE(watch.active());
    const auto far = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    bool look_again = false;
    append(dir.path / "q.db-wal");
    watch.pause(far, std::chrono::milliseconds(1), std::chrono::seconds(10), look_again);
    EXPECT_TRUE(look_again);  // a write came: the next pause is the gap alone
    append(dir.path / "q.db-wal");
    watch.pause(far, std::chrono::milliseconds(1), std::chrono::seconds(10), look_again);
    EXPECT_FALSE(look_again);
    EXPECT_TRUE(watch.drain());  // that pause did not wait for (or take) the second write
}

}  // namespace
}  // namespace wfq::store
