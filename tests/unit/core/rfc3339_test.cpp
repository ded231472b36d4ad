#include <cstdint>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "core/clock.hpp"

namespace gatehouse::core {
namespace {

constexpr std::int64_t kNov25 = 1'795'573'088;  // 2026-11-25T02:18:08Z

TEST(ParseRfc3339, ReadsUtcTimes) {
  EXPECT_EQ(parseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parseRfc3339("2026-11-25T02:18:08Z"), kNov25);
  EXPECT_EQ(parseRfc3339("2000-01-01T00:00:00Z"), 946'684'800);
  EXPECT_EQ(parseRfc3339("1999-12-31T23:59:59Z"), 946'684'799);
}

// RFC 3339 §5.6: the offset is local time minus UTC.
TEST(ParseRfc3339, AppliesOffsets) {
  EXPECT_EQ(parseRfc3339("2026-11-25T03:18:08+01:00"), kNov25);
  EXPECT_EQ(parseRfc3339("2026-11-24T21:18:08-05:00"), kNov25);
  EXPECT_EQ(parseRfc3339("2026-11-25T07:48:08+05:30"), kNov25);
  EXPECT_EQ(parseRfc3339("2026-11-25T02:18:08+00:00"), kNov25);
  EXPECT_EQ(parseRfc3339("2026-11-25T02:18:08-00:00"), kNov25);
  // Across midnight and the year's end.
  EXPECT_EQ(parseRfc3339("2026-01-01T00:30:00+01:00"), 1'767'223'800);  // 2025-12-31T23:30Z
}

TEST(ParseRfc3339, DropsFractions) {
  EXPECT_EQ(parseRfc3339("2026-11-25T02:18:08.5Z"), kNov25);
  EXPECT_EQ(parseRfc3339("2026-11-25T02:18:08.999999999Z"), kNov25);
  EXPECT_EQ(parseRfc3339("2026-11-25T03:18:08.5+01:00"), kNov25);
}

// RFC 3339 §5.6 NOTE: 'T' and 'Z' may be lower case; a space may separate date and time.
TEST(ParseRfc3339, AcceptsLowerCaseAndASpace) {
  EXPECT_EQ(parseRfc3339("2026-11-25t02:18:08z"), kNov25);
  EXPECT_EQ(parseRfc3339("2026-11-25 02:18:08Z"), kNov25);
}

TEST(ParseRfc3339, AcceptsLeapDaysOnlyInLeapYears) {
  EXPECT_EQ(parseRfc3339("2024-02-29T00:00:00Z"), 1'709'164'800);
  EXPECT_EQ(parseRfc3339("2000-02-29T00:00:00Z"), 951'782'400);
  EXPECT_EQ(parseRfc3339("2023-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parseRfc3339("1900-02-29T00:00:00Z"), std::nullopt);
}

TEST(ParseRfc3339, RefusesDaysThatDoNotExist) {
  for (const char* text : {"2026-02-31T00:00:00Z", "2026-02-30T00:00:00Z", "2026-04-31T00:00:00Z",
                           "2026-06-31T12:00:00+02:00", "2026-11-31T00:00:00Z",
                           "2026-01-32T00:00:00Z", "2026-01-00T00:00:00Z"})
    EXPECT_EQ(parseRfc3339(text), std::nullopt) << text;
}

TEST(ParseRfc3339, RefusesOutOfRangeFields) {
  for (const char* text : {"2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-11-25T24:00:00Z",
                           "2026-11-25T02:60:00Z", "2026-11-25T02:18:61Z",
                           "2026-11-25T02:18:08+24:00", "2026-11-25T02:18:08+01:60"})
    EXPECT_EQ(parseRfc3339(text), std::nullopt) << text;
}

TEST(ParseRfc3339, RefusesGarbage) {
  for (const char* text : {"",
                           "yesterday",
                           "2026-11-25",
                           "2026-11-25T02:18Z",
                           "2026-11-25T02:18:08",       // no offset
                           "2026-11-25T02:18:08+0100",  // offset without colon
                           "2026-11-25T02:18:08+01",    // offset without minutes
                           "2026-11-25T02:18:08.Z",     // empty fraction
                           "2026-11-25T02:18:08,5Z",    // comma fraction
                           "2026-11-25T02:18:08Zjunk",  // trailing text
                           "2026-11-25T02:18:08Z ",     // trailing space
                           " 2026-11-25T02:18:08Z",     // leading space
                           "2026-11-25X02:18:08Z",      // wrong separator
                           "2026/11/25T02:18:08Z",      // wrong date separator
                           "26-11-25T02:18:08Z",        // two-digit year
                           "2026-1-25T02:18:08Z",       // one-digit month
                           "+2026-11-25T02:18:08Z",     // signed year
                           "2026-11-25T2:18:08Z",       // one-digit hour
                           "2026-11-25T02:18:08UTC",
                           "1795573088"})
    EXPECT_EQ(parseRfc3339(text), std::nullopt) << "'" << text << "'";
}

TEST(ParseRfc3339, ReadsWhatRfc3339Writes) {
  for (const std::int64_t t : {std::int64_t{0}, std::int64_t{946'684'799}, kNov25,
                               std::int64_t{1'709'164'800}, std::int64_t{4'102'444'800}})
    EXPECT_EQ(parseRfc3339(rfc3339(t)), t) << rfc3339(t);
}

}  // namespace
}  // namespace gatehouse::core
