#pragma once
// Helpers shared by the unit tests.
#include <wfq/errors.h>

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace wfq::test_util {

// Runs fn and returns the code of the Error it throws (a test failure when it throws none).
inline ErrorCode code_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.code();
    }
    ADD_FAILURE() << "no error thrown";
    return ErrorCode::failure;
}

// Runs fn, expects it to throw Error with code want, and returns the message.
inline std::string error_of(const std::function<void()>& fn, ErrorCode want) {
    try {
        fn();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), want) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no error thrown";
    return "";
}

}  // namespace wfq::test_util
