#pragma once
// Internal: each backend's schema migrations, read at build time from
// store/postgres/migrations/ and store/sqlite/migrations/ (NNN_name.sql, see
// embed_migrations.cmake). Applied in version order; schema_migrations records version and name.
#include "db.h"

#include <vector>

namespace wfq::store {

const std::vector<Migration>& postgres_migrations();
const std::vector<Migration>& sqlite_migrations();

}  // namespace wfq::store
