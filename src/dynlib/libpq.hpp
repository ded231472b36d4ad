#pragma once

#include <libpq-fe.h>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "dynlib/shared_library.hpp"

namespace gatehouse::dynlib {

// The functions of libpq Gatehouse calls, one list: the table's members and what loading looks
// up both follow from it.
// clang-format off
#define GATEHOUSE_LIBPQ_FUNCTIONS(X)                                                 \
  X(PQconnectdb) X(PQstatus) X(PQerrorMessage) X(PQfinish) X(PQsetNoticeProcessor)   \
  X(PQtransactionStatus) X(PQexec) X(PQprepare) X(PQexecPrepared) X(PQresultStatus)  \
  X(PQresultErrorField) X(PQresultErrorMessage) X(PQclear) X(PQntuples) X(PQnfields) \
  X(PQfname) X(PQcmdTuples) X(PQgetvalue) X(PQgetlength) X(PQgetisnull) X(PQsocket)
// clang-format on

// libpq's functions, named as in libpq-fe.h: `pq.PQexec(conn, sql)`.
struct LibPq {
  GATEHOUSE_LIBPQ_FUNCTIONS(GATEHOUSE_DYNLIB_MEMBER)
};

// libpq.so.5, loaded on the first call (thread-safe; a failure is kept, not retried): a server on
// SQLite never loads it. Unavailable with the loader's reason when it is not installed (Debian:
// libpq5).
[[nodiscard]] core::Result<const LibPq*> libpq();

// libpq's message for a connection to `url` that failed, without its final newline and with
// every spelling of the URL's password hidden as "***": libpq quotes a part of the URL it cannot
// parse (a password holding a bare '%', a malformed host) back in its message, and the message
// goes to logs.
std::string connectionError(const LibPq& pq, PGconn* conn, std::string_view url);

}  // namespace gatehouse::dynlib
