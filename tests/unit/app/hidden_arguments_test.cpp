#include "app/hidden_arguments.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace gatehouse::app {
namespace {

// argv as a process gets it: writable strings.
struct Argv {
  explicit Argv(std::vector<std::string> args) : storage(std::move(args)) {
    for (auto& s : storage) pointers.push_back(s.data());
  }
  int argc() const { return static_cast<int>(pointers.size()); }
  char** argv() { return pointers.data(); }
  std::vector<std::string> storage;
  std::vector<char*> pointers;
};

TEST(HideOptionValues, StarsOutTheValueInBothSpellings) {
  Argv a({"gatehouse", "user", "create", "--email", "a@example.com", "--password", "hunter2!x",
          "--password=s3cret", "--username", "ann"});
  EXPECT_EQ(hideOptionValues(a.argc(), a.argv(), "--password"), 2);
  EXPECT_EQ(std::string(a.argv()[6]), "*********");
  EXPECT_EQ(std::string(a.argv()[7]), "--password=******");
  // Everything else as it was, lengths kept (the strings are the process's own memory).
  EXPECT_EQ(std::string(a.argv()[4]), "a@example.com");
  EXPECT_EQ(std::string(a.argv()[9]), "ann");
}

TEST(HideOptionValues, LeavesLookalikesAndWhatFollowsTheEndOfOptions) {
  Argv a({"gatehouse", "--password-stdin", "--passwords=x", "--", "--password", "y"});
  EXPECT_EQ(hideOptionValues(a.argc(), a.argv(), "--password"), 0);
  EXPECT_EQ(std::string(a.argv()[1]), "--password-stdin");
  EXPECT_EQ(std::string(a.argv()[2]), "--passwords=x");
  EXPECT_EQ(std::string(a.argv()[5]), "y");
}

TEST(HideOptionValues, AnOptionLastWithoutAValueIsLeft) {
  Argv a({"gatehouse", "--password"});
  EXPECT_EQ(hideOptionValues(a.argc(), a.argv(), "--password"), 0);
  EXPECT_EQ(std::string(a.argv()[1]), "--password");
}

}  // namespace
}  // namespace gatehouse::app
