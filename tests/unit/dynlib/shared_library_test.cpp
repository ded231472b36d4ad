#include "dynlib/shared_library.hpp"

#include <cstring>

#include <gtest/gtest.h>

#include "dynlib/libcurl.hpp"
#include "dynlib/libpq.hpp"

namespace gatehouse::dynlib {
namespace {

TEST(SharedLibrary, AMissingLibraryIsUnavailableAndNamesItself) {
  auto missing = SharedLibrary::open("libgatehouse-absent.so.7");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, core::Errc::Unavailable);
  EXPECT_NE(missing.error().message.find("cannot load libgatehouse-absent.so.7"),
            std::string::npos);
}

TEST(SharedLibrary, AMissingFunctionIsUnavailableAndBindingStopsAtIt) {
  auto libc = SharedLibrary::open("libc.so.6");
  ASSERT_TRUE(libc) << libc.error().message;
  EXPECT_TRUE(libc->symbol("strlen"));
  auto absent = libc->symbol("gatehouse_no_such_function");
  ASSERT_FALSE(absent);
  EXPECT_NE(absent.error().message.find("libc.so.6 has no gatehouse_no_such_function"),
            std::string::npos);

  core::Status status;
  decltype(&::strlen) found = nullptr;
  decltype(&::strlen) never = nullptr;
  decltype(&::strlen) after = nullptr;
  bind(*libc, "strlen", found, status);
  bind(*libc, "gatehouse_no_such_function", never, status);
  bind(*libc, "strlen", after, status);
  EXPECT_FALSE(status);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found("four"), 4U);
  EXPECT_EQ(never, nullptr);
  EXPECT_EQ(after, nullptr);  // the first missing function is the one reported
}

// The build machine has both libraries (their -dev packages): every function in the lists is
// found, and the one loaded table is handed out each time.
TEST(SharedLibrary, LibpqLoadsWithEveryFunctionGatehouseCalls) {
  auto pq = libpq();
  ASSERT_TRUE(pq) << pq.error().message;
#define GATEHOUSE_EXPECT_BOUND(name) EXPECT_NE((*pq)->name, nullptr) << #name;
  GATEHOUSE_LIBPQ_FUNCTIONS(GATEHOUSE_EXPECT_BOUND)
#undef GATEHOUSE_EXPECT_BOUND
  EXPECT_EQ(*libpq(), *pq);
  // A real call through the table: a connection string libpq refuses to parse.
  PGconn* conn = (*pq)->PQconnectdb("this is not=a valid' conninfo");
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ((*pq)->PQstatus(conn), CONNECTION_BAD);
  (*pq)->PQfinish(conn);
}

TEST(SharedLibrary, LibcurlLoadsInitialisedWithEveryFunctionGatehouseCalls) {
  auto curl = libcurl();
  ASSERT_TRUE(curl) << curl.error().message;
#define GATEHOUSE_EXPECT_BOUND(name, member) EXPECT_NE((*curl)->member, nullptr) << #name;
  GATEHOUSE_LIBCURL_FUNCTIONS(GATEHOUSE_EXPECT_BOUND)
#undef GATEHOUSE_EXPECT_BOUND
  EXPECT_EQ(*libcurl(), *curl);
  CURL* handle = (*curl)->easy_init();
  ASSERT_NE(handle, nullptr);
  EXPECT_EQ((*curl)->easy_setopt(handle, CURLOPT_URL, "gopher://127.0.0.1/"), CURLE_OK);
  // Outside the protocols Gatehouse allows, refused before any connection.
  EXPECT_EQ((*curl)->easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "https"), CURLE_OK);
  EXPECT_NE((*curl)->easy_perform(handle), CURLE_OK);
  (*curl)->easy_cleanup(handle);
}

}  // namespace
}  // namespace gatehouse::dynlib
