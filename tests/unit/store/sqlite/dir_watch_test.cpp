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
#include <thread>

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

// A database file q.db in a directory of its own, and a watch on it.
std::string new_database(const TempDir& dir) {
    append(dir.path / "q.db");
    return (dir.path / "q.db").string();
}
class DirWatchTest : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(watch.active()); }
    void write_wal() { append(dir.path / "q.db-wal"); }
    TempDir dir;
    DirWatch watch{new_database(dir)};
};

TEST_F(DirWatchTest, SeesAWriteBesideTheDatabase) {
    ASSERT_TRUE(watch.arm());
    EXPECT_FALSE(watch.drain());
    write_wal();
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

TEST_F(DirWatchTest, ReportsNoWriteWhenNoneCame) {
    ASSERT_TRUE(watch.arm());
    EXPECT_FALSE(watch.wait(0));
    EXPECT_FALSE(watch.drain());
}

TEST_F(DirWatchTest, SeesNothingWhileDisarmed) {
    EXPECT_FALSE(watch.armed());  // a new watch waits for a waiter
    write_wal();
    EXPECT_FALSE(watch.wait(10000));  // not armed: returns at once
    ASSERT_TRUE(watch.arm());
    EXPECT_FALSE(watch.wait(0));  // the write before arming queued nothing
    write_wal();
    watch.disarm();               // drops the event of that write
    ASSERT_TRUE(watch.arm());
    EXPECT_FALSE(watch.wait(0));
    write_wal();
    EXPECT_TRUE(watch.wait(10000));
}

TEST_F(DirWatchTest, PauseArmsOnlyOnceTheDatabaseIsQuiet) {
    const auto far = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    const auto gap = std::chrono::milliseconds(1);
    const auto most = std::chrono::seconds(10);
    watch.pause(far, gap, most, true);  // the last look saw a change: busy, the gap alone
    EXPECT_FALSE(watch.armed());
    watch.pause(far, gap, most, false);  // quiet: armed, and the caller looks once more
    EXPECT_TRUE(watch.armed());
    write_wal();
    watch.pause(far, gap, most, false);  // waits: the write ends it (not the 10 s)
    EXPECT_FALSE(watch.armed());
    write_wal();  // unseen while disarmed
    watch.pause(far, gap, most, false);  // a write was just seen: the gap, still disarmed
    EXPECT_FALSE(watch.armed());
    watch.pause(far, gap, most, false);
    EXPECT_TRUE(watch.armed());
    EXPECT_FALSE(watch.wait(0));
    watch.pause(far, gap, most, true);  // busy again: disarmed
    EXPECT_FALSE(watch.armed());
}

TEST_F(DirWatchTest, PauseStaysArmedWhenNoWriteCame) {
    watch.pause(std::chrono::steady_clock::now() + std::chrono::minutes(1), std::chrono::milliseconds(1),
                std::chrono::seconds(10), false);
    ASSERT_TRUE(watch.armed());
    watch.pause(std::chrono::steady_clock::now(), std::chrono::milliseconds(1), std::chrono::seconds(10), false);
    EXPECT_TRUE(watch.armed());  // the deadline came first: still armed, the next pause waits at once
}

TEST_F(DirWatchTest, InterruptEndsAWaitAndEveryLaterOne) {
    ASSERT_TRUE(watch.arm());
    const auto start = std::chrono::steady_clock::now();
    bool wrote = true;
    std::thread waiter([&] { wrote = watch.wait(60000); });  // no write comes: only the interrupt ends it
    watch.interrupt();
    waiter.join();
    EXPECT_FALSE(wrote);
    EXPECT_TRUE(watch.stopped());
    write_wal();
    EXPECT_FALSE(watch.wait(60000));  // a write or not, at once
    watch.pause(std::chrono::steady_clock::now() + std::chrono::minutes(1), std::chrono::minutes(1),
                std::chrono::minutes(1), true);  // the gap too
    EXPECT_FALSE(watch.sleep(std::chrono::minutes(1)));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

}  // namespace
}  // namespace wfq::store
