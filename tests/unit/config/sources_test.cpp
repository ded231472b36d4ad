#include "config/sources.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/config.hpp"

namespace gatehouse::config {
namespace {

namespace fs = std::filesystem;

Lookup from(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    if (auto it = values.find(name); it != values.end()) return it->second;
    return std::nullopt;
  };
}

// Every key is known: the syntax alone is under test.
const std::function<bool(const std::string&)> kAnyKey = [](const std::string&) { return true; };

// Settings load() reads (no OIDC providers).
const std::function<bool(const std::string&)> kSettings = [](const std::string& key) {
  return isSetting(key, {});
};

std::map<std::string, FileValue> parsed(std::string_view text) {
  auto values = parseConfigFile(text, "g.env", kAnyKey);
  EXPECT_TRUE(values) << values.error().message;
  return values ? *values : std::map<std::string, FileValue>{};
}

std::string valueOf(std::string_view text, const std::string& key) {
  const auto values = parsed(text);
  const auto it = values.find(key);
  EXPECT_NE(it, values.end()) << key << " missing from: " << text;
  return it == values.end() ? std::string("(missing)") : it->second.value;
}

// The error message of a refused file ("" when it was accepted).
std::string refusal(std::string_view text,
                    const std::function<bool(const std::string&)>& known = kAnyKey) {
  auto values = parseConfigFile(text, "/etc/gatehouse/g.env", known);
  EXPECT_FALSE(values) << "accepted: " << text;
  if (values) return "";
  EXPECT_EQ(values.error().code, core::Errc::InvalidArgument);
  return values.error().message;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// --- syntax ----------------------------------------------------------------------------------

TEST(ConfigFile, ReadsPlainKeyValueLines) {
  const auto values = parsed("TOKEN_ISSUER=https://auth.example.com\nBCRYPT_ROUNDS=10\n");
  ASSERT_EQ(values.size(), 2U);
  EXPECT_EQ(values.at("TOKEN_ISSUER").value, "https://auth.example.com");
  EXPECT_EQ(values.at("TOKEN_ISSUER").line, 1);
  EXPECT_EQ(values.at("BCRYPT_ROUNDS").value, "10");
  EXPECT_EQ(values.at("BCRYPT_ROUNDS").line, 2);
}

TEST(ConfigFile, SkipsBlankLinesAndCommentsButCountsThem) {
  const auto values = parsed(
      "# a comment\n"
      "; an ini-style comment\n"
      "\n"
      "   \t\n"
      "   # an indented comment\n"
      "TOKEN_ISSUER=x\n");
  ASSERT_EQ(values.size(), 1U);
  EXPECT_EQ(values.at("TOKEN_ISSUER").line, 6);
}

TEST(ConfigFile, AcceptsExportAsAShellWould) {
  const auto values =
      parsed("export TOKEN_ISSUER=a\nexport\tBRAND_NAME=b\nexport   MFA_ISSUER=c\n");
  EXPECT_EQ(values.at("TOKEN_ISSUER").value, "a");
  EXPECT_EQ(values.at("BRAND_NAME").value, "b");
  EXPECT_EQ(values.at("MFA_ISSUER").value, "c");
}

TEST(ConfigFile, AllowsSpacesAroundTheEqualsSign) {
  EXPECT_EQ(valueOf("BCRYPT_ROUNDS = 10", "BCRYPT_ROUNDS"), "10");
  EXPECT_EQ(valueOf("BCRYPT_ROUNDS\t=\t10\t", "BCRYPT_ROUNDS"), "10");
  EXPECT_EQ(valueOf("  BCRYPT_ROUNDS=10  ", "BCRYPT_ROUNDS"), "10");
}

TEST(ConfigFile, PlainValuesKeepInnerSpacesAndEqualsSigns) {
  EXPECT_EQ(valueOf("BRAND_NAME=Acme Sign In", "BRAND_NAME"), "Acme Sign In");
  EXPECT_EQ(valueOf("DATABASE_URL=postgresql://h/db?a=b&c=d", "DATABASE_URL"),
            "postgresql://h/db?a=b&c=d");
  EXPECT_EQ(valueOf("TOKEN_AUDIENCE=", "TOKEN_AUDIENCE"), "");
}

TEST(ConfigFile, SpaceHashStartsACommentAfterAPlainValue) {
  EXPECT_EQ(valueOf("TOKEN_ISSUER=gatehouse # the iss claim", "TOKEN_ISSUER"), "gatehouse");
  EXPECT_EQ(valueOf("TOKEN_ISSUER=gatehouse\t# tab before", "TOKEN_ISSUER"), "gatehouse");
  // A '#' inside a word is text, as in a shell: colours and URL fragments survive.
  EXPECT_EQ(valueOf("BRAND_PRIMARY_COLOR=#2457c5", "BRAND_PRIMARY_COLOR"), "#2457c5");
  EXPECT_EQ(valueOf("PASSWORD_RESET_URL=https://a/b#c", "PASSWORD_RESET_URL"), "https://a/b#c");
}

// The header's rule: " #" starts a comment. With nothing before it the value is empty, as
// `KEY= # comment` is in a shell; the comment must not become the value.
TEST(ConfigFile, CommentAfterAnEmptyValueLeavesItEmpty) {
  EXPECT_EQ(valueOf("TOKEN_AUDIENCE= # none for now", "TOKEN_AUDIENCE"), "");
  EXPECT_EQ(valueOf("TOKEN_AUDIENCE = # none for now", "TOKEN_AUDIENCE"), "");
}

TEST(ConfigFile, DoubleQuotesTakeShellEscapesAndExpandNothing) {
  EXPECT_EQ(valueOf(R"(SMTP_FROM="Ops \"Team\" <ops@example.com>")", "SMTP_FROM"),
            R"(Ops "Team" <ops@example.com>)");
  EXPECT_EQ(valueOf(R"(BRAND_NAME="a\\b")", "BRAND_NAME"), R"(a\b)");
  EXPECT_EQ(valueOf(R"(BRAND_NAME="\$HOME and \`cmd\`")", "BRAND_NAME"), "$HOME and `cmd`");
  EXPECT_EQ(valueOf(R"x(BRAND_NAME="$HOME $(id)")x", "BRAND_NAME"), "$HOME $(id)");
  // Other backslashes are kept, as a shell keeps them inside double quotes.
  EXPECT_EQ(valueOf(R"(BRAND_NAME="a\nb")", "BRAND_NAME"), R"(a\nb)");
  EXPECT_EQ(valueOf(R"(BRAND_NAME="  padded  ")", "BRAND_NAME"), "  padded  ");
  EXPECT_EQ(valueOf(R"(BRAND_NAME="a # not a comment")", "BRAND_NAME"), "a # not a comment");
  EXPECT_EQ(valueOf(R"(TOKEN_AUDIENCE="")", "TOKEN_AUDIENCE"), "");
}

TEST(ConfigFile, SingleQuotesAreLiteral) {
  EXPECT_EQ(valueOf(R"(BRAND_NAME='a \"b\" $HOME \\ `x`')", "BRAND_NAME"),
            R"(a \"b\" $HOME \\ `x`)");
  EXPECT_EQ(valueOf(R"(SMTP_FROM='Ops "Team" <ops@example.com>')", "SMTP_FROM"),
            R"(Ops "Team" <ops@example.com>)");
  EXPECT_EQ(valueOf("BRAND_NAME=' spaced '", "BRAND_NAME"), " spaced ");
}

TEST(ConfigFile, CommentAfterAClosingQuote) {
  EXPECT_EQ(valueOf(R"(BRAND_NAME="Acme" # the product)", "BRAND_NAME"), "Acme");
  EXPECT_EQ(valueOf("BRAND_NAME='Acme'   # the product", "BRAND_NAME"), "Acme");
  EXPECT_EQ(valueOf(R"(BRAND_NAME="Acme"   )", "BRAND_NAME"), "Acme");
}

TEST(ConfigFile, ReadsWindowsLineEndings) {
  const auto values = parsed("# c\r\nTOKEN_ISSUER=a\r\nBRAND_NAME=\"b c\"\r\nMFA_ISSUER = d \r\n");
  EXPECT_EQ(values.at("TOKEN_ISSUER").value, "a");
  EXPECT_EQ(values.at("TOKEN_ISSUER").line, 2);
  EXPECT_EQ(values.at("BRAND_NAME").value, "b c");
  EXPECT_EQ(values.at("MFA_ISSUER").value, "d");
  // An indented blank line of such a file is blank (it was once an error: "not KEY=VALUE"), and
  // a CR is a blank at a value's start as at its end.
  const auto indented = parsed("TOKEN_ISSUER=a\r\n  \r\n\tBRAND_NAME=\rb\r\n");
  EXPECT_EQ(indented.at("TOKEN_ISSUER").value, "a");
  EXPECT_EQ(indented.at("BRAND_NAME").value, "b");
  EXPECT_EQ(indented.at("BRAND_NAME").line, 3);
}

TEST(ConfigFile, LastLineNeedsNoNewline) {
  EXPECT_EQ(valueOf("A=1\nTOKEN_ISSUER=last", "TOKEN_ISSUER"), "last");
  EXPECT_TRUE(parsed("").empty());
  EXPECT_TRUE(parsed("\n\n# only comments\n").empty());
}

// --- refusals --------------------------------------------------------------------------------

TEST(ConfigFile, RefusesALineThatIsNotKeyValue) {
  EXPECT_EQ(refusal("TOKEN_ISSUER=a\njust some words\n"), "/etc/gatehouse/g.env:2: not KEY=VALUE");
  EXPECT_EQ(refusal("=value"), "/etc/gatehouse/g.env:1: not KEY=VALUE");
  EXPECT_EQ(refusal("1KEY=value"), "/etc/gatehouse/g.env:1: not KEY=VALUE");
  EXPECT_EQ(refusal("TOKEN ISSUER=value"), "/etc/gatehouse/g.env:1: not KEY=VALUE");
  EXPECT_EQ(refusal("TOKEN-ISSUER=value"), "/etc/gatehouse/g.env:1: not KEY=VALUE");
  EXPECT_EQ(refusal("export"), "/etc/gatehouse/g.env:1: not KEY=VALUE");
  EXPECT_EQ(refusal("TOKEN_ISSUER: value"), "/etc/gatehouse/g.env:1: not KEY=VALUE");
}

TEST(ConfigFile, RefusesAnUnterminatedQuote) {
  EXPECT_EQ(refusal("\n\nSECRET_KEY=\"abc"),
            "/etc/gatehouse/g.env:3: SECRET_KEY: unterminated \" quote");
  EXPECT_EQ(refusal("SECRET_KEY='abc"), "/etc/gatehouse/g.env:1: SECRET_KEY: unterminated ' quote");
  // An escaped quote does not close the value.
  EXPECT_EQ(refusal(R"(BRAND_NAME="abc\")"),
            "/etc/gatehouse/g.env:1: BRAND_NAME: unterminated \" quote");
  // Quotes do not span lines.
  EXPECT_TRUE(contains(refusal("BRAND_NAME=\"a\nb\"\n"), "g.env:1: BRAND_NAME: unterminated"));
}

TEST(ConfigFile, RefusedValuesAreNeverEchoed) {
  const std::string message = refusal("SECRET_KEY=\"hunter2-hunter2-hunter2");
  EXPECT_FALSE(contains(message, "hunter2")) << message;
}

TEST(ConfigFile, RefusesTextAfterTheClosingQuote) {
  EXPECT_EQ(refusal(R"(BRAND_NAME="a" b)"),
            "/etc/gatehouse/g.env:1: BRAND_NAME: text after the closing quote");
  EXPECT_EQ(refusal("BRAND_NAME='it''s'"),
            "/etc/gatehouse/g.env:1: BRAND_NAME: text after the closing quote");
}

TEST(ConfigFile, RefusesAKeySetTwice) {
  EXPECT_EQ(refusal("TOKEN_ISSUER=a\n# c\nexport TOKEN_ISSUER=b\n"),
            "/etc/gatehouse/g.env:3: TOKEN_ISSUER is already set on line 1");
  // Even to the same value.
  EXPECT_EQ(refusal("TOKEN_ISSUER=a\nTOKEN_ISSUER=a\n"),
            "/etc/gatehouse/g.env:2: TOKEN_ISSUER is already set on line 1");
}

TEST(ConfigFile, RefusesAnUnknownKeyWithASuggestion) {
  EXPECT_EQ(refusal("BCRYPT_ROUND=10", kSettings),
            "/etc/gatehouse/g.env:1: unknown setting BCRYPT_ROUND (did you mean BCRYPT_ROUNDS?)");
  EXPECT_EQ(refusal("\nGATEHOUSE_LISTN=127.0.0.1:8000", kSettings),
            "/etc/gatehouse/g.env:2: unknown setting GATEHOUSE_LISTN (did you mean "
            "GATEHOUSE_LISTEN?)");
  EXPECT_EQ(refusal("NOTHING_LIKE_ANY_SETTING_AT_ALL=1", kSettings),
            "/etc/gatehouse/g.env:1: unknown setting NOTHING_LIKE_ANY_SETTING_AT_ALL");
  // Names are case-sensitive, as in the environment.
  EXPECT_TRUE(contains(refusal("secret_key=x", kSettings), "g.env:1: unknown setting secret_key"));
}

TEST(ConfigFile, WithoutAKnownListEveryWellFormedKeyIsAccepted) {
  auto values = parseConfigFile("ANYTHING_AT_ALL=1\nlower_case=2\n", "g.env", nullptr);
  ASSERT_TRUE(values) << values.error().message;
  EXPECT_EQ(values->size(), 2U);
}

TEST(ConfigFile, RefusesTheConfigFileSettingInsideTheFile) {
  EXPECT_EQ(refusal("GATEHOUSE_CONFIG_FILE=/etc/other.env", kSettings),
            "/etc/gatehouse/g.env:1: GATEHOUSE_CONFIG_FILE cannot be set inside the file");
}

TEST(ConfigFile, RefusesOidcKeysOfUnlistedProviders) {
  EXPECT_EQ(refusal("OIDC_ACME_ISSUER=https://idp.example", kSettings),
            "/etc/gatehouse/g.env:1: unknown setting OIDC_ACME_ISSUER");
  const auto with_acme = [](const std::string& key) { return isSetting(key, {"acme"}); };
  auto ok = parseConfigFile("OIDC_ACME_ISSUER=https://idp.example\n", "g.env", with_acme);
  EXPECT_TRUE(ok) << ok.error().message;
}

TEST(ConfigFile, ReportsEveryProblemEachWithItsLine) {
  const std::string message = refusal(
      "BCRYPT_ROUND=10\n"
      "SECRET_KEY=\"abc\n"
      "words\n"
      "BRAND_NAME=\"a\" b\n"
      "TOKEN_ISSUER=x\n"
      "TOKEN_ISSUER=y\n"
      "GATEHOUSE_CONFIG_FILE=/x\n",
      kSettings);
  for (const char* part :
       {"g.env:1: unknown setting BCRYPT_ROUND", "g.env:2: SECRET_KEY: unterminated",
        "g.env:3: not KEY=VALUE", "g.env:4: BRAND_NAME: text after",
        "g.env:6: TOKEN_ISSUER is already set on line 5",
        "g.env:7: GATEHOUSE_CONFIG_FILE cannot be set"})
    EXPECT_TRUE(contains(message, part)) << part << " not in: " << message;
  // Joined as load() joins its problems, so that `config --check` prints one per line.
  EXPECT_TRUE(contains(message, "; /etc/gatehouse/g.env:2: ")) << message;
}

// --- names -----------------------------------------------------------------------------------

TEST(ConfigNames, EveryVariableIsASetting) {
  for (const auto& [name, meaning] : variables()) EXPECT_TRUE(isSetting(name, {})) << name;
  EXPECT_FALSE(isSetting("NOT_A_SETTING", {}));
  EXPECT_FALSE(isSetting("", {}));
}

TEST(ConfigNames, OidcProviderKeysAreSettingsOnlyForListedProviders) {
  for (const char* field :
       {"ISSUER", "CLIENT_ID", "CLIENT_SECRET", "SCOPES", "ID_TOKEN_ALG", "TRUST_AMR"}) {
    const std::string key = std::string("OIDC_ACME_") + field;
    EXPECT_FALSE(isSetting(key, {})) << key;
    EXPECT_FALSE(isSetting(key, {"other"})) << key;
    EXPECT_TRUE(isSetting(key, {"acme"})) << key;
    EXPECT_TRUE(isSetting(key, {"other", "acme"})) << key;
  }
  // A provider's '-' becomes '_' in its variables, as load() reads them.
  EXPECT_TRUE(isSetting("OIDC_MY_IDP_CLIENT_SECRET", {"my-idp"}));
  EXPECT_FALSE(isSetting("OIDC_ACME_NICKNAME", {"acme"}));
  EXPECT_FALSE(isSetting("OIDC_ACME_", {"acme"}));
  EXPECT_FALSE(isSetting("OIDC_ACMEX_ISSUER", {"acme"}));
  // The fixed OIDC_ settings do not depend on the list.
  EXPECT_TRUE(isSetting("OIDC_PROVIDERS", {}));
  EXPECT_TRUE(isSetting("OIDC_CA_FILE", {}));
}

TEST(ConfigNames, ClosestSettingSuggestsNearNamesOnly) {
  EXPECT_EQ(closestSetting("BCRYPT_ROUND"), "BCRYPT_ROUNDS");
  EXPECT_EQ(closestSetting("SECRETKEY"), "SECRET_KEY");
  EXPECT_EQ(closestSetting("GATEHOUSE_LISTN"), "GATEHOUSE_LISTEN");
  EXPECT_EQ(closestSetting("DATABSE_URL"), "DATABASE_URL");
  EXPECT_EQ(closestSetting("SECRET_KEY"), "SECRET_KEY");
  EXPECT_EQ(closestSetting("XYZ"), "");
  EXPECT_EQ(closestSetting("NOTHING_LIKE_ANY_SETTING_AT_ALL"), "");
}

TEST(ConfigNames, SecretSettingsAreRecognised) {
  for (const char* name : {"SECRET_KEY", "MFA_SECRET_KEY", "LEGACY_SECRET_KEY", "METRICS_TOKEN",
                           "GOOGLE_CLIENT_SECRET", "OIDC_ACME_CLIENT_SECRET"})
    EXPECT_TRUE(isSecretSetting(name)) << name;
  for (const char* name : {"TOKEN_ISSUER", "GOOGLE_CLIENT_ID", "OIDC_ACME_CLIENT_ID", "SMTP_FROM",
                           "LEGACY_TOKENS_UNTIL"})
    EXPECT_FALSE(isSecretSetting(name)) << name;
}

// --- sources: a real file --------------------------------------------------------------------

class SourcesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "gatehouse-sources-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = fs::path(pattern).lexically_normal();
    fs::create_directories(dir_ / "etc");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  fs::path write(const std::string& text, const std::string& name = "etc/gatehouse.env") {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  Sources read(const std::string& text, std::map<std::string, std::string> environment = {}) {
    auto sources = Sources::read(write(text), from(std::move(environment)));
    EXPECT_TRUE(sources) << sources.error().message;
    return sources ? *sources : *Sources::read(std::nullopt, from({}));
  }

  std::string etc() const { return (dir_ / "etc").string(); }

  fs::path dir_;
};

TEST_F(SourcesTest, WithoutAFileOnlyTheEnvironmentCounts) {
  auto sources = Sources::read(std::nullopt, from({{"TOKEN_ISSUER", "env-issuer"}}));
  ASSERT_TRUE(sources) << sources.error().message;
  EXPECT_FALSE(sources->file());
  EXPECT_EQ(sources->value("TOKEN_ISSUER"), "env-issuer");
  EXPECT_EQ(sources->origin("TOKEN_ISSUER"), "environment");
  EXPECT_EQ(sources->value("BRAND_NAME"), std::nullopt);
  EXPECT_EQ(sources->origin("BRAND_NAME"), "default");
  // load()'s own default applies: relative to the working directory.
  EXPECT_EQ(sources->value("DATABASE_URL"), std::nullopt);
}

TEST_F(SourcesTest, OriginNamesTheFileAndLine) {
  const auto sources = read("# settings\nTOKEN_ISSUER=file-issuer\n\nBRAND_NAME='Acme'\n");
  ASSERT_TRUE(sources.file());
  EXPECT_EQ(*sources.file(), dir_ / "etc" / "gatehouse.env");
  EXPECT_TRUE(sources.file()->is_absolute());
  EXPECT_EQ(sources.origin("TOKEN_ISSUER"), etc() + "/gatehouse.env:2");
  EXPECT_EQ(sources.origin("BRAND_NAME"), etc() + "/gatehouse.env:4");
  EXPECT_EQ(sources.origin("MFA_ISSUER"), "default");
  EXPECT_EQ(sources.value("BRAND_NAME"), "Acme");
}

TEST_F(SourcesTest, AByteOrderMarkIsNotPartOfTheFirstKey) {
  const auto sources = read("\xEF\xBB\xBFTOKEN_ISSUER=bom-issuer\n");
  EXPECT_EQ(sources.value("TOKEN_ISSUER"), "bom-issuer");
  EXPECT_EQ(sources.origin("TOKEN_ISSUER"), etc() + "/gatehouse.env:1");
}

TEST_F(SourcesTest, TheEnvironmentWinsOverTheFile) {
  const auto sources =
      read("TOKEN_ISSUER=file-issuer\nBRAND_NAME=File\n", {{"TOKEN_ISSUER", "env-issuer"}});
  EXPECT_EQ(sources.value("TOKEN_ISSUER"), "env-issuer");
  EXPECT_EQ(sources.origin("TOKEN_ISSUER"), "environment");
  EXPECT_EQ(sources.value("BRAND_NAME"), "File");
  EXPECT_EQ(sources.lookup()("TOKEN_ISSUER"), "env-issuer");
  EXPECT_EQ(sources.lookup()("BRAND_NAME"), "File");
}

TEST_F(SourcesTest, RelativeSqlitePathInTheFileResolvesAgainstItsFolder) {
  EXPECT_EQ(read("DATABASE_URL=sqlite:///data/g.db\n").value("DATABASE_URL"),
            "sqlite:///" + etc() + "/data/g.db");
  EXPECT_EQ(read("DATABASE_URL=sqlite:///./data/g.db\n").value("DATABASE_URL"),
            "sqlite:///" + etc() + "/data/g.db");
  EXPECT_EQ(read("DATABASE_URL=sqlite:///../var/g.db\n").value("DATABASE_URL"),
            "sqlite:///" + (dir_ / "var" / "g.db").string());
  // Absolute paths and other databases are left alone.
  EXPECT_EQ(read("DATABASE_URL=sqlite:////srv/g.db\n").value("DATABASE_URL"),
            "sqlite:////srv/g.db");
  EXPECT_EQ(read("DATABASE_URL=postgresql://gate@db/gh\n").value("DATABASE_URL"),
            "postgresql://gate@db/gh");
}

TEST_F(SourcesTest, TheDefaultDatabaseLivesNextToTheFile) {
  const auto sources = read("TOKEN_ISSUER=x\n");
  EXPECT_EQ(sources.value("DATABASE_URL"), "sqlite:///" + etc() + "/gatehouse-data/gatehouse.db");
  EXPECT_EQ(sources.origin("DATABASE_URL"), "default");
  auto c = load(sources.lookup());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->sqlite_path, dir_ / "etc" / "gatehouse-data" / "gatehouse.db");
  EXPECT_EQ(c->data_dir, dir_ / "etc" / "gatehouse-data");
}

TEST_F(SourcesTest, RelativeValuesFromTheEnvironmentStayRelative) {
  const auto sources = read("TOKEN_ISSUER=x\n", {{"DATABASE_URL", "sqlite:///data/g.db"},
                                                 {"GATEHOUSE_POLICY_FILE", "policy.json"},
                                                 {"GATEHOUSE_DATA_DIR", "keys"}});
  EXPECT_EQ(sources.value("DATABASE_URL"), "sqlite:///data/g.db");
  EXPECT_EQ(sources.value("GATEHOUSE_POLICY_FILE"), "policy.json");
  EXPECT_EQ(sources.value("GATEHOUSE_DATA_DIR"), "keys");
}

TEST_F(SourcesTest, RelativePathSettingsInTheFileResolveAgainstItsFolder) {
  const auto sources = read(
      "GATEHOUSE_POLICY_FILE=policy.json\n"
      "GATEHOUSE_DATA_DIR=./keys\n"
      "GATEHOUSE_TEMPLATE_DIR=templates\n"
      "MAIL_FILE=../mail/outbox.mbox\n"
      "OIDC_CA_FILE=ca/oidc.pem\n"
      "WEBAUTHN_TRUST_STORE=roots.pem\n"
      "AUDIT_LOG_FILE=-\n"
      "SMTP_CA_FILE=/etc/ssl/smtp.pem\n"
      "TOKEN_ISSUER=relative-looking\n");
  EXPECT_EQ(sources.value("GATEHOUSE_POLICY_FILE"), etc() + "/policy.json");
  EXPECT_EQ(sources.value("GATEHOUSE_DATA_DIR"), etc() + "/keys");
  EXPECT_EQ(sources.value("GATEHOUSE_TEMPLATE_DIR"), etc() + "/templates");
  EXPECT_EQ(sources.value("MAIL_FILE"), (dir_ / "mail" / "outbox.mbox").string());
  EXPECT_EQ(sources.value("OIDC_CA_FILE"), etc() + "/ca/oidc.pem");
  EXPECT_EQ(sources.value("WEBAUTHN_TRUST_STORE"), etc() + "/roots.pem");
  // "-" is stdout, not a file; absolute paths and other settings are left alone.
  EXPECT_EQ(sources.value("AUDIT_LOG_FILE"), "-");
  EXPECT_EQ(sources.value("SMTP_CA_FILE"), "/etc/ssl/smtp.pem");
  EXPECT_EQ(sources.value("TOKEN_ISSUER"), "relative-looking");
}

TEST_F(SourcesTest, LoadSeesTheResolvedPaths) {
  const auto sources = read("DATABASE_URL=sqlite:///db/g.db\nGATEHOUSE_DATA_DIR=keys\n");
  auto c = load(sources.lookup());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->database_url, "sqlite:///" + etc() + "/db/g.db");
  EXPECT_EQ(c->sqlite_path, dir_ / "etc" / "db" / "g.db");
  EXPECT_EQ(c->data_dir, dir_ / "etc" / "keys");
}

TEST_F(SourcesTest, ConfigFileVariableNamesTheFile) {
  const fs::path path = write("TOKEN_ISSUER=from-named-file\n", "etc/named.env");
  auto sources = Sources::read(std::nullopt, from({{"GATEHOUSE_CONFIG_FILE", path.string()}}));
  ASSERT_TRUE(sources) << sources.error().message;
  EXPECT_EQ(sources->value("TOKEN_ISSUER"), "from-named-file");
  // An explicit file (--config) overrides the variable.
  const fs::path other = write("TOKEN_ISSUER=from-flag\n", "etc/flag.env");
  auto flagged = Sources::read(other, from({{"GATEHOUSE_CONFIG_FILE", path.string()}}));
  ASSERT_TRUE(flagged) << flagged.error().message;
  EXPECT_EQ(flagged->value("TOKEN_ISSUER"), "from-flag");
  EXPECT_EQ(*flagged->file(), other);
  // An empty variable means no file.
  auto none = Sources::read(std::nullopt, from({{"GATEHOUSE_CONFIG_FILE", ""}}));
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_FALSE(none->file());
}

TEST_F(SourcesTest, AMissingFileIsNotFound) {
  auto sources = Sources::read(dir_ / "etc" / "absent.env", from({}));
  ASSERT_FALSE(sources);
  EXPECT_EQ(sources.error().code, core::Errc::NotFound);
  EXPECT_TRUE(contains(sources.error().message, "absent.env")) << sources.error().message;
}

TEST_F(SourcesTest, ABadFileIsRefusedNamingFileAndLine) {
  const fs::path path = write("TOKEN_ISSUER=a\nBCRYPT_ROUND=10\n");
  auto sources = Sources::read(path, from({}));
  ASSERT_FALSE(sources);
  EXPECT_EQ(sources.error().code, core::Errc::InvalidArgument);
  EXPECT_EQ(sources.error().message,
            path.string() + ":2: unknown setting BCRYPT_ROUND (did you mean BCRYPT_ROUNDS?)");
}

TEST_F(SourcesTest, AHugeFileIsRefusedBeforeItIsRead) {
  const fs::path path = write("# " + std::string(2U << 20U, 'x') + "\n");
  auto sources = Sources::read(path, from({}));
  ASSERT_FALSE(sources);
  EXPECT_EQ(sources.error().code, core::Errc::InvalidArgument);
  EXPECT_TRUE(contains(sources.error().message, "larger than 1 MiB")) << sources.error().message;
}

TEST_F(SourcesTest, OidcProvidersFromTheFileOrTheEnvironmentAdmitTheirKeys) {
  const std::string keys =
      "OIDC_MY_IDP_ISSUER=https://idp.example\n"
      "OIDC_MY_IDP_CLIENT_ID=cid\n"
      "OIDC_MY_IDP_CLIENT_SECRET=oidc-secret\n";
  const auto in_file = read("OIDC_PROVIDERS=my-idp\n" + keys);
  EXPECT_EQ(in_file.value("OIDC_MY_IDP_CLIENT_ID"), "cid");
  EXPECT_EQ(in_file.origin("OIDC_MY_IDP_ISSUER"), etc() + "/gatehouse.env:2");
  const auto in_environment = read(keys, {{"OIDC_PROVIDERS", "my-idp"}});
  EXPECT_EQ(in_environment.value("OIDC_MY_IDP_ISSUER"), "https://idp.example");
  auto c = load(in_environment.lookup());
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->oidc_providers.size(), 1U);
  EXPECT_EQ(c->oidc_providers[0].client_secret, "oidc-secret");

  auto unlisted = Sources::read(write(keys), from({}));
  ASSERT_FALSE(unlisted);
  EXPECT_TRUE(
      contains(unlisted.error().message, "gatehouse.env:1: unknown setting OIDC_MY_IDP_ISSUER"))
      << unlisted.error().message;
  // The environment's list is the one load() reads, so it decides.
  auto other =
      Sources::read(write("OIDC_PROVIDERS=my-idp\n" + keys), from({{"OIDC_PROVIDERS", "x"}}));
  EXPECT_FALSE(other);
}

TEST_F(SourcesTest, UnknownEnvironmentListsOnlyGatehouseLookalikes) {
  const auto sources = read("TOKEN_ISSUER=x\n");
  EXPECT_EQ(sources.unknownEnvironment({"PATH", "HOME", "GATEHOUSE_LISTEN", "GATEHOUSE_LISTN",
                                        "GATEHOUSE_CONFIG_FILE", "SECRET_KEYS", "GATEHOUSE_FOO"}),
            (std::vector<std::string>{"GATEHOUSE_LISTN", "GATEHOUSE_FOO"}));
}

// --- describeSources -------------------------------------------------------------------------

TEST_F(SourcesTest, DescribeSourcesShowsValuesAndOrigins) {
  const auto sources = read("TOKEN_ISSUER=file-issuer\nSMTP_FROM=\"Ops <ops@example.com>\"\n",
                            {{"BRAND_NAME", "Env Brand"}});
  const auto lines = describeSources(sources);
  const auto line_of = [&lines](const std::string& name) {
    for (const auto& line : lines)
      if (line.starts_with(name + " ")) return line;
    return std::string("(no line for " + name + ")");
  };
  EXPECT_TRUE(contains(line_of("TOKEN_ISSUER"), "= file-issuer"));
  EXPECT_TRUE(contains(line_of("TOKEN_ISSUER"), "(" + etc() + "/gatehouse.env:1)"));
  EXPECT_TRUE(contains(line_of("SMTP_FROM"), "= Ops <ops@example.com>"));
  EXPECT_TRUE(contains(line_of("BRAND_NAME"), "= Env Brand"));
  EXPECT_TRUE(contains(line_of("BRAND_NAME"), "(environment)"));
  EXPECT_TRUE(contains(line_of("DATABASE_URL"), "gatehouse-data/gatehouse.db"));
  EXPECT_TRUE(contains(line_of("DATABASE_URL"), "(default)"));
  // Unset settings are not listed.
  for (const auto& line : lines) EXPECT_FALSE(line.starts_with("MFA_ISSUER ")) << line;
}

TEST_F(SourcesTest, DescribeSourcesNeverShowsSecrets) {
  const auto sources = read(
      "OIDC_PROVIDERS=acme\n"
      "OIDC_ACME_ISSUER=https://idp.example\n"
      "OIDC_ACME_CLIENT_ID=cid\n"
      "OIDC_ACME_CLIENT_SECRET=zzzz-oidc-client-secret\n"
      "SECRET_KEY=zzzz-signing-secret-0123456789-abcdef\n"
      "MFA_SECRET_KEY='zzzz-mfa-secret-0123456789-abcdefgh'\n"
      "LEGACY_SECRET_KEY=\"zzzz-legacy\"\n"
      "LEGACY_TOKENS_UNTIL=2030-01-01T00:00:00Z\n"
      "DATABASE_URL=postgresql://gate:zzzzdbpw@db:5432/gh?password=zzzzdbpw2\n"
      "SMTP_URL=smtp://mailer:zzzzsmtppw@smtp.example:587\n"
      "SMTP_FROM=ops@example.com\n",
      {{"METRICS_TOKEN", "zzzz-metrics-token-0123"},
       {"GOOGLE_CLIENT_ID", "gid"},
       {"GOOGLE_CLIENT_SECRET", "zzzz-google-secret"},
       {"REDIS_URL", "redis://:zzzzredispw@cache:6379/1"}});
  const auto lines = describeSources(sources);
  std::size_t hidden = 0;
  for (const auto& line : lines) {
    EXPECT_FALSE(contains(line, "zzzz")) << line;
    if (contains(line, "(set, not shown)")) ++hidden;
  }
  // SECRET_KEY, MFA_SECRET_KEY, LEGACY_SECRET_KEY, OIDC_ACME_CLIENT_SECRET, METRICS_TOKEN,
  // GOOGLE_CLIENT_SECRET.
  EXPECT_EQ(hidden, 6U);
  std::string all;
  for (const auto& line : lines) all += line + "\n";
  EXPECT_TRUE(contains(all, "postgresql://gate:***@db:5432/gh?password=***")) << all;
  EXPECT_TRUE(contains(all, "smtp://mailer:***@smtp.example:587")) << all;
  EXPECT_TRUE(contains(all, "redis://:***@cache:6379/1")) << all;
  // Redis reads a user part without ':' as the password: it is hidden whole.
  EXPECT_EQ(redactUrl("redis://zzzzS3cret@cache:6379/1"), "redis://***@cache:6379/1");
  EXPECT_EQ(redactUrl("rediss://zzzzS3cret@cache:6380"), "rediss://***@cache:6380");
  // A database URL's user alone is no secret.
  EXPECT_EQ(redactUrl("postgresql://gate@db:5432/gh"), "postgresql://gate@db:5432/gh");
  // What is not secret is shown.
  EXPECT_TRUE(contains(all, "= cid")) << all;
  EXPECT_TRUE(contains(all, "= 2030-01-01T00:00:00Z")) << all;
}

// Every set setting is listed with its origin, wherever it was set: provider keys from the
// environment as much as from the file.
TEST_F(SourcesTest, DescribeSourcesListsOidcKeysSetInTheEnvironment) {
  const auto sources = read("TOKEN_ISSUER=x\n", {{"OIDC_PROVIDERS", "acme"},
                                                 {"OIDC_ACME_ISSUER", "https://idp.example"},
                                                 {"OIDC_ACME_CLIENT_ID", "cid"},
                                                 {"OIDC_ACME_CLIENT_SECRET", "zzzz-secret"}});
  std::string all;
  for (const auto& line : describeSources(sources)) all += line + "\n";
  EXPECT_TRUE(contains(all, "OIDC_ACME_ISSUER")) << all;
  EXPECT_TRUE(contains(all, "OIDC_ACME_CLIENT_ID")) << all;
  EXPECT_TRUE(contains(all, "OIDC_ACME_CLIENT_SECRET")) << all;
  EXPECT_FALSE(contains(all, "zzzz")) << all;
}

}  // namespace
}  // namespace gatehouse::config
