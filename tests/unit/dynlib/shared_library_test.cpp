#include "dynlib/shared_library.hpp"

#include <cstring>

#include <gtest/gtest.h>

#include "dynlib/libcbor.hpp"
#include "dynlib/libcurl.hpp"
#include "dynlib/libhiredis.hpp"
#include "dynlib/libpq.hpp"
#include "dynlib/libqrencode.hpp"
#include "dynlib/libssl.hpp"

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

// The build machine has the libraries (their -dev packages): every function in the lists is found,
// the one loaded table is handed out each time, and a real call goes through it.
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

// An outside attack: a password holding a bare '%' (or a malformed host) made libpq quote the URL
// back, password and all, into the message that reaches the log.
TEST(SharedLibrary, ALibpqConnectionErrorNeverNamesThePassword) {
  auto pq = libpq();
  ASSERT_TRUE(pq) << pq.error().message;
  for (const std::string url : {
           "postgresql://alice:Secret%zzPW1@127.0.0.1:1/db",
           "postgresql://alice:Pa%73s%zz@[::1/db",
           "postgresql://alice:Secret%zzPW2@127.0.0.1:1/db?application_name=a@b",
           "postgresql://alice@127.0.0.1:1/db?password=Hid%zzden&sslmode=bogus",
           "host=127.0.0.1 port=1 password=Key%zzVal sslmode=bogus",
       }) {
    PGconn* conn = (*pq)->PQconnectdb(url.c_str());
    ASSERT_NE(conn, nullptr);
    const std::string raw = (*pq)->PQerrorMessage(conn);
    const std::string shown = connectionError(**pq, conn, url);
    (*pq)->PQfinish(conn);
    EXPECT_FALSE(shown.empty()) << url;
    for (const char* secret : {"Secret", "Pa%73s", "Pass", "Hid%zzden", "Key%zzVal"})
      EXPECT_EQ(shown.find(secret), std::string::npos) << url << ": " << shown;
    EXPECT_NE(shown.back(), '\n');
    if (raw.find("zz") != std::string::npos) {
      EXPECT_NE(shown.find("***"), std::string::npos) << raw;
    }
  }
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

TEST(SharedLibrary, HiredisLoadsWithEveryFunctionGatehouseCalls) {
  auto redis = libhiredis();
  ASSERT_TRUE(redis) << redis.error().message;
  EXPECT_EQ(*libhiredis(), *redis);
  // A real round through the table: a command formatted, a reply parsed.
  const char* argv[] = {"PING"};
  const std::size_t lens[] = {4};
  char* formatted = nullptr;
  ASSERT_EQ((*redis)->redisFormatCommandArgv(&formatted, 1, argv, lens), 14);
  EXPECT_EQ(std::string(formatted, 14), "*1\r\n$4\r\nPING\r\n");
  (*redis)->redisFreeCommand(formatted);
  redisReader* reader = (*redis)->redisReaderCreate();
  ASSERT_NE(reader, nullptr);
  ASSERT_EQ((*redis)->redisReaderFeed(reader, "+PONG\r\n", 7), REDIS_OK);
  void* reply = nullptr;
  ASSERT_EQ((*redis)->redisReaderGetReply(reader, &reply), REDIS_OK);
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(std::string(static_cast<redisReply*>(reply)->str), "PONG");
  (*redis)->freeReplyObject(reply);
  (*redis)->redisReaderFree(reader);
}

TEST(SharedLibrary, LibsslLoadsWithEveryFunctionGatehouseCalls) {
  auto tls = libssl();
  ASSERT_TRUE(tls) << tls.error().message;
  EXPECT_EQ(*libssl(), *tls);
  // The macro Gatehouse spells out (SSL_CTX_set_min_proto_version) takes effect through the table.
  SSL_CTX* ctx = (*tls)->SSL_CTX_new((*tls)->TLS_client_method());
  ASSERT_NE(ctx, nullptr);
  EXPECT_EQ((*tls)->SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, nullptr), 1);
  EXPECT_EQ((*tls)->SSL_CTX_ctrl(ctx, SSL_CTRL_GET_MIN_PROTO_VERSION, 0, nullptr), TLS1_2_VERSION);
  (*tls)->SSL_CTX_free(ctx);
}

TEST(SharedLibrary, LibcborLoadsAndDecodesThroughTheTable) {
  auto cbor = libcbor();
  ASSERT_TRUE(cbor) << cbor.error().message;
  EXPECT_EQ(*libcbor(), *cbor);
  cbor_callbacks callbacks{};
  callbacks.uint8 = [](void* seen, std::uint8_t value) { *static_cast<int*>(seen) = value; };
  int seen = -1;
  const cbor_data item = reinterpret_cast<cbor_data>("\x18\x2a");  // unsigned 42, one byte
  const auto r = (*cbor)->cbor_stream_decode(item, 2, &callbacks, &seen);
  EXPECT_EQ(r.status, CBOR_DECODER_FINISHED);
  EXPECT_EQ(r.read, 2U);
  EXPECT_EQ(seen, 42);
}

TEST(SharedLibrary, LibqrencodeLoadsAndEncodesThroughTheTable) {
  auto qr = libqrencode();
  ASSERT_TRUE(qr) << qr.error().message;
  EXPECT_EQ(*libqrencode(), *qr);
  const unsigned char text[] = "otpauth://totp/x";
  QRcode* code = (*qr)->QRcode_encodeData(sizeof text - 1, text, 0, QR_ECLEVEL_M);
  ASSERT_NE(code, nullptr);
  EXPECT_EQ(code->width, 25);  // version 2: 16 bytes exceed the 14 of version 1 at level M
  (*qr)->QRcode_free(code);
}

}  // namespace
}  // namespace gatehouse::dynlib
