#include <wfq/errors.h>

namespace wfq {

int exit_code_for(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::failure: return 1;
        case ErrorCode::usage: return 2;
        case ErrorCode::lock_conflict: return 3;
        case ErrorCode::not_found: return 4;
        case ErrorCode::bad_input: return 65;
        case ErrorCode::db_unavailable: return 69;
        case ErrorCode::config: return 78;
        case ErrorCode::interrupted: return 130;
    }
    return 1;
}

const char* error_code_name(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::failure: return "failure";
        case ErrorCode::usage: return "usage";
        case ErrorCode::lock_conflict: return "lock_conflict";
        case ErrorCode::not_found: return "not_found";
        case ErrorCode::bad_input: return "bad_input";
        case ErrorCode::db_unavailable: return "db_unavailable";
        case ErrorCode::config: return "config";
        case ErrorCode::interrupted: return "interrupted";
    }
    return "failure";
}

}  // namespace wfq
