#pragma once
// Helpers shared by the unit tests.
#include <wfq/errors.h>

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace wfq::test_util {

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
