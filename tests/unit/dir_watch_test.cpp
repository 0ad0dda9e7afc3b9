// The inotify watch that wakes idle SQLite waiters: it must see the writes SQLite makes, which
// land beside the database file itself, also when the path given is a symbolic link; and it is
// armed only while a waiter waits, so that a busy database's writes queue no events.
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
    ASSERT_TRUE(watch.arm());
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
    ASSERT_TRUE(watch.arm());
    append(dir.path / "real" / "q.db-wal");  // SQLite writes the WAL beside the file linked to
    EXPECT_TRUE(watch.wait(10000));
}

TEST(DirWatch, ReportsNoWriteWhenNoneCame) {
    TempDir dir;
    append(dir.path / "q.db");
    DirWatch watch((dir.path / "q.db").string());
    ASSERT_TRUE(watch.active());
    ASSERT_TRUE(watch.arm());
    EXPECT_FALSE(watch.wait(0));
    EXPECT_FALSE(watch.drain());
}

TEST(DirWatch, SeesNothingWhileDisarmed) {
    TempDir dir;
    append(dir.path / "q.db");
    DirWatch watch((dir.path / "q.db").string());
    ASSERT_TRUE(watch.active());
    EXPECT_FALSE(watch.armed());  // a new watch waits for a waiter
    append(dir.path / "q.db-wal");
    EXPECT_FALSE(watch.wait(10000));  // not armed: returns at once
    ASSERT_TRUE(watch.arm());
    EXPECT_FALSE(watch.wait(0));  // the write before arming queued nothing
    append(dir.path / "q.db-wal");
    watch.disarm();               // drops the event of that write
    ASSERT_TRUE(watch.arm());
    EXPECT_FALSE(watch.wait(0));
    append(dir.path / "q.db-wal");
    EXPECT_TRUE(watch.wait(10000));
}

TEST(DirWatch, PauseArmsOnlyOnceTheDatabaseIsQuiet) {
    TempDir dir;
    append(dir.path / "q.db");
    DirWatch watch((dir.path / "q.db").string());
    ASSERT_TRUE(watch.active());
    const auto far = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    const auto gap = std::chrono::milliseconds(1);
    const auto most = std::chrono::seconds(10);
    watch.pause(far, gap, most, true);  // the last look saw a change: busy, the gap alone
    EXPECT_FALSE(watch.armed());
    watch.pause(far, gap, most, false);  // quiet: armed, and the caller looks once more
    EXPECT_TRUE(watch.armed());
    append(dir.path / "q.db-wal");
    watch.pause(far, gap, most, false);  // waits: the write ends it (not the 10 s)
    EXPECT_FALSE(watch.armed());
    append(dir.path / "q.db-wal");  // unseen while disarmed
    watch.pause(far, gap, most, false);  // a write was just seen: the gap, still disarmed
    EXPECT_FALSE(watch.armed());
    watch.pause(far, gap, most, false);
    EXPECT_TRUE(watch.armed());
    EXPECT_FALSE(watch.wait(0));
    watch.pause(far, gap, most, true);  // busy again: disarmed
    EXPECT_FALSE(watch.armed());
}

TEST(DirWatch, PauseStaysArmedWhenNoWriteCame) {
    TempDir dir;
    append(dir.path / "q.db");
    DirWatch watch((dir.path / "q.db").string());
    ASSERT_TRUE(watch.active());
    watch.pause(std::chrono::steady_clock::now() + std::chrono::minutes(1), std::chrono::milliseconds(1),
                std::chrono::seconds(10), false);
    ASSERT_TRUE(watch.armed());
    watch.pause(std::chrono::steady_clock::now(), std::chrono::milliseconds(1), std::chrono::seconds(10), false);
    EXPECT_TRUE(watch.armed());  // the deadline came first: still armed, the next pause waits at once
}

}  // namespace
}  // namespace wfq::store
