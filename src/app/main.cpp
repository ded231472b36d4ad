// gatehouse: the command-line entry point. Exit codes: 0 ok, 1 failure (one line on stderr),
// 2 usage.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <string_view>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <boost/json/array.hpp>

#include "app/hidden_arguments.hpp"
#include "app/keys.hpp"
#include "app/page_setup.hpp"
#include "app/preflight.hpp"
#include "app/server_main.hpp"
#include "auth/client_info.hpp"
#include "cli/apikey_commands.hpp"
#include "cli/client_commands.hpp"
#include "cli/context.hpp"
#include "cli/database.hpp"
#include "cli/import_commands.hpp"
#include "cli/mail_commands.hpp"
#include "cli/user_commands.hpp"
#include "config/sources.hpp"
#include "core/version.hpp"
#include "keyring/purposes.hpp"

namespace {

using namespace gatehouse;

// New client ids never begin with '-'; ones registered before that was so may, and read as options.
constexpr const char* kClientIdHelp = "the client's id (after -- when it begins with '-')";

// Reads the password from stdin: the first line, without its line ending.
std::string readPasswordLine() {
  std::string line;
  std::getline(std::cin, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::string variablesHelp() {
  std::string text =
      "\nSettings: the environment first (a variable set empty counts as unset), then the "
      "configuration file (--config FILE or GATEHOUSE_CONFIG_FILE: KEY=VALUE lines, `export` and "
      "quotes as in a shell):\n";
  for (const auto& [name, meaning] : config::variables())
    text += "  " + name + "\n      " + meaning + "\n";
  return text;
}

// `gatehouse config --check`: every problem serve would stop at, one line each, like nginx -t.
int checkConfiguration(const config::Sources& sources, const core::Result<config::Config>& cfg,
                       std::vector<std::string> problems) {
  // It opens the database (SQLite makes its -shm file): not as root where another account writes.
  if (cfg && cli::refusesRootInAnotherUsersDirectory(*cfg, std::cerr)) return 1;
  if (cfg) {
    for (const auto& w : cfg->warnings) std::cout << "gatehouse: warning: " << w << "\n";
    auto checked = app::preflight(*cfg, true);
    for (const auto& w : checked.warnings) std::cout << "gatehouse: warning: " << w << "\n";
    problems = std::move(checked.problems);
  }
  for (const auto& name : sources.unknownEnvironment(config::environmentNames())) {
    const std::string near = config::closestSetting(name);
    std::cout << "gatehouse: warning: the environment sets " << name << ", which is not a setting"
              << (near.empty() ? "" : " (did you mean " + near + "?)") << "\n";
  }
  for (const auto& name : sources.emptyOverFile()) {
    std::cout << "gatehouse: warning: the environment sets " << name << " empty, which counts as "
              << "unset: " << sources.origin(name) << " applies\n";
  }
  const std::string where =
      sources.file() ? " (environment and " + sources.file()->string() + ")" : " (environment)";
  if (problems.empty()) {
    std::cout << "gatehouse: the configuration is valid" << where << "\n";
    return 0;
  }
  for (const auto& p : problems) std::cerr << "gatehouse: " << p << "\n";
  std::cerr << "gatehouse: the configuration has " << problems.size() << " problem"
            << (problems.size() == 1 ? "" : "s") << where << "\n";
  return 1;
}

boost::json::array voidedKids(const std::vector<std::string>& kids) {
  boost::json::array out;
  for (const auto& kid : kids) out.emplace_back(kid);
  return out;
}

// `gatehouse keys rotate` and `gatehouse keys list`.
int keysCommand(const config::Config& cfg, bool rotate, std::int64_t after, bool compromised) {
  if (rotate && cli::refusesWithoutAuditSink(cfg, std::cerr)) return 1;
  auto db = cli::openExisting(cfg, std::cerr);
  if (!db) return 1;
  core::SystemClock clock;
  // Before the rotation: its audit record needs the master secret (a review: rotated, then
  // refused).
  if (rotate) {
    if (auto ok = app::noLostMasterSecret(cfg, *db); !ok) {
      std::cerr << "gatehouse: " << ok.error().message << "\n";
      return 1;
    }
    auto done = app::rotateKeys(
        cfg, *db, clock, after > 0 ? std::optional(std::chrono::seconds(after)) : std::nullopt,
        compromised);
    if (!done) {
      std::cerr << "gatehouse: " << done.error().message << "\n";
      return 1;
    }
    // In the audit log, as the command line's other changes (a review: a new signing key left
    // no trace), keyed when the server has made its master secret.
    auto master = app::storedMasterSecret(cfg, *db, clock);
    if (!master) {
      std::cerr << "gatehouse: the key was rotated, but its audit record cannot be keyed: "
                << master.error().message << "\n";
      return 1;
    }
    auto audit = cli::commandAuditLog(cfg, *db, *master, clock, std::cerr);
    if (!audit) return 1;
    audit->record(auth::auditEvent("keys.rotated", auth::commandLineClient(), std::nullopt,
                                   std::nullopt,
                                   {{"kid", done->kid},
                                    {"algorithm", jose::algorithmName(cfg.algorithm)},
                                    {"signs_from", done->signs_from},
                                    {"first", done->first},
                                    {"compromised", compromised},
                                    {"voided", voidedKids(done->voided)}}));
    if (compromised && !done->first) {
      std::cout << "signing key " << done->kid << ": signs now; every earlier key (";
      for (std::size_t i = 0; i < done->voided.size(); ++i)
        std::cout << (i > 0 ? " " : "") << done->voided[i];
      std::cout << ") verifies nothing from now on: every token it signed is refused on every "
                   "node within a second\n";
    } else if (done->first) {
      std::cout << "first signing key " << done->kid << ": signs now (there was none to rotate)\n";
    } else {
      std::cout << "next signing key " << done->kid << ": verifies now, signs from "
                << core::rfc3339(done->signs_from) << " (in "
                << done->signs_from - clock.unixSeconds()
                << " s); every node follows without a restart\n";
    }
    return 0;
  }
  if (jose::isHmac(cfg.algorithm) && cfg.secret_key) {
    std::cout << "hs1 " << jose::algorithmName(cfg.algorithm)
              << " signing from SECRET_KEY (rotate it there)\n";
    return 0;
  }
  auto keys = app::listKeys(cfg, *db, clock);
  if (!keys) {
    std::cerr << "gatehouse: " << keys.error().message << "\n";
    return 1;
  }
  for (const auto& k : *keys) {
    std::cout << k.kid << " " << k.alg << " "
              << (k.state == keyring::KeyState::Signing ? "signing since "
                  : k.state == keyring::KeyState::Next  ? "next signs from "
                                                        : "retired verifies until ")
              << core::rfc3339(k.at) << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A peer that closed its end (a reset TLS connection to Redis, written to by OpenSSL's plain
  // write()) must be an error on that connection, not the end of the process.
  std::signal(SIGPIPE, SIG_IGN);
  // A file size limit (systemd's LimitFSIZE) reached by the database or the audit copy must be a
  // failed write (EFBIG: SQLite's error, a 503), not the end of the process with a core dump.
  std::signal(SIGXFSZ, SIG_IGN);
  // A command's messages leave standard error a line in one write: its audit copy
  // (AUDIT_LOG_FILE=-) is written there by its own thread, a line at a time, and a message printed
  // in pieces was cut in two by a record. std::cerr flushes after each piece (unitbuf) unless
  // told not to. The server's log keeps its own flushing.
  if (argc < 2 || std::string_view(argv[1]) != "serve") {
    std::setvbuf(stderr, nullptr, _IOLBF, BUFSIZ);
    std::cerr.unsetf(std::ios::unitbuf);
  }
  CLI::App app{"Gatehouse: a self-hosted authentication and authorization server"};
  app.set_version_flag("--version", std::string("gatehouse ") + core::kVersion);
  app.require_subcommand(1);
  // Options of the whole program may follow any subcommand: `gatehouse serve --config FILE`.
  app.fallthrough();
  std::string config_file;
  app.add_option("--config", config_file,
                 "the configuration file (KEY=VALUE lines); overrides GATEHOUSE_CONFIG_FILE");

  auto* serve = app.add_subcommand(
      "serve",
      "Run the HTTP server (migrates the database first); under systemd's Type=notify it sends "
      "READY=1 to NOTIFY_SOCKET once it listens, and WATCHDOG=1 every half WATCHDOG_USEC");
  std::string listen;
  serve->add_option("--listen", listen, "HOST:PORT to listen on; overrides GATEHOUSE_LISTEN");
  auto* show = app.add_subcommand(
      "config",
      "Print the settings given and where each comes from, and the effective values of the main "
      "ones (--help lists every setting with its default)");
  bool check = false;
  show->add_flag("--check", check,
                 "validate everything serve would load (settings, files, the keys in the "
                 "database) and exit non-zero naming each problem; a database it cannot reach is "
                 "a warning, and Redis is not contacted");
  auto* roles = app.add_subcommand("roles", "List the roles and their permissions");
  auto* migrate = app.add_subcommand("migrate", "Apply pending database migrations");

  auto* audit = app.add_subcommand("audit", "Audit log tools");
  audit->require_subcommand(1);
  auto* audit_verify = audit->add_subcommand(
      "verify", "Check the audit log's hash chain and the records' keys for tampering");
  std::int64_t unkeyed_before = 0;
  audit_verify
      ->add_option("--unkeyed-before", unkeyed_before,
                   "Accept records below this id that carry no key after keyed ones (older "
                   "nodes wrote them during the upgrade that brought keying; compare them with "
                   "the shipped AUDIT_LOG_FILE first), when a keyed record follows them; a number "
                   "beyond the log's end is refused")
      ->check(CLI::PositiveNumber);

  auto* keys = app.add_subcommand("keys", "Signing keys");
  keys->require_subcommand(1);
  auto* keys_rotate = keys->add_subcommand(
      "rotate",
      "Store the next token signing key: every node verifies with it at once and signs with it "
      "from --after seconds on, without a restart; older keys keep verifying their tokens until "
      "they expire");
  std::int64_t rotate_after = 0;
  keys_rotate
      ->add_option("--after", rotate_after,
                   "seconds the next key is published for verification only before it signs "
                   "(2 to 2592000; default 10 for HS*, 305 for asymmetric algorithms, whose JWKS "
                   "is cached 300 s)")
      ->check(CLI::Range(std::int64_t{2}, std::int64_t{2592000}));
  bool rotate_compromised = false;
  keys_rotate
      ->add_flag("--compromised", rotate_compromised,
                 "the keys are known to someone else: the new key signs at once and every "
                 "earlier one (a waiting next key too) verifies nothing from now on, on every "
                 "node within a second; every token signed before is refused (everyone signs in "
                 "again)")
      ->excludes("--after");
  auto* keys_list = keys->add_subcommand(
      "list", "List the token signing keys of ALGORITHM: signing, next and retired");

  auto* apikey = app.add_subcommand("apikey", "Manage API keys");
  apikey->require_subcommand(1);
  cli::ApiKeyCreate key_args;
  std::int64_t key_days = 0;
  std::int64_t key_id = 0;
  auto* key_create = apikey->add_subcommand("create", "Create an API key (printed once on stdout)");
  key_create->add_option("--email", key_args.email, "the owner's email")->required();
  key_create->add_option("--name", key_args.name, "a name to recognise the key by")->required();
  key_create->add_option("--scope", key_args.scopes,
                         "a permission the key carries (repeatable; default: the owner's)");
  key_create->add_option("--expires-in-days", key_days, "expiry in days (default: none)");
  std::string key_email;
  auto* key_list =
      apikey->add_subcommand("list", "List a user's live API keys (never the secrets)");
  key_list->add_option("--email", key_email, "the owner's email")->required();
  auto* key_revoke = apikey->add_subcommand("revoke", "Revoke an API key");
  key_revoke->add_option("--email", key_email, "the owner's email")->required();
  key_revoke->add_option("--id", key_id, "the key's id")->required();

  auto* client = app.add_subcommand("client", "Manage the OpenID Provider's clients");
  client->require_subcommand(1);
  op::NewClient client_args;
  std::string client_scope;
  bool client_json = false;
  std::string client_id;
  auto* client_create = client->add_subcommand(
      "create", "Register a client (a confidential one's secret is shown once)");
  client_create->add_option("--name", client_args.name, "a name people see on the consent page")
      ->required();
  client_create->add_option("--redirect-uri", client_args.redirect_uris,
                            "an exact redirect URI (repeatable)");
  client_create->add_option("--post-logout-redirect-uri", client_args.post_logout_redirect_uris,
                            "an exact post-logout redirect URI (repeatable)");
  client_create->add_option("--grant", client_args.grant_types,
                            "authorization_code, refresh_token or client_credentials (repeatable; "
                            "default: the code flow with redirect URIs, else client_credentials)");
  client_create->add_option("--scope", client_scope,
                            "the scopes it may ask for, space-separated (default for the code "
                            "flow: \"openid profile email offline_access\")");
  client_create->add_flag("--public", client_args.is_public,
                          "no secret (a browser or mobile app): PKCE S256 is required");
  client_create->add_flag("--first-party", client_args.first_party,
                          "one of your own applications: no consent page");
  client_create->add_flag("--json", client_json, "print one JSON object");
  auto* client_list = client->add_subcommand("list", "List clients (never their secrets)");
  client_list->add_flag("--json", client_json, "print JSON");
  auto* client_delete = client->add_subcommand(
      "delete", "Delete a client: its consents, codes, grants and access tokens end with it");
  client_delete->add_option("client_id", client_id, kClientIdHelp)->required();
  auto* client_rotate =
      client->add_subcommand("rotate-secret", "Give a confidential client a new secret");
  client_rotate->add_option("client_id", client_id, kClientIdHelp)->required();
  client_rotate->add_flag("--json", client_json, "print one JSON object");

  auto* user = app.add_subcommand("user", "Manage users");
  user->require_subcommand(1);
  cli::UserCreate create_args;
  bool password_stdin = false;
  std::string password_arg;
  auto* create = user->add_subcommand("create", "Create a user");
  create->add_option("--email", create_args.email, "email address")->required();
  create->add_option("--username", create_args.username, "3-32 of [A-Za-z0-9_.-]")->required();
  create->add_option("--role", create_args.role, "role (default user)");
  create->add_flag("--email-verified", create_args.email_verified,
                   "the email is known to be the user's (external sign-in may link to it)");
  auto* pw_stdin = create->add_flag("--password-stdin", password_stdin,
                                    "read the password from the first line of stdin");
  create
      ->add_option("--password", password_arg,
                   "the password (other local users may see it before it is starred in the process "
                   "list: prefer --password-stdin)")
      ->excludes(pw_stdin);
  auto* list = user->add_subcommand("list", "List users");
  std::string email;
  std::string role;
  auto* set_role = user->add_subcommand("set-role", "Change a user's role");
  set_role->add_option("--email", email, "the user's email")->required();
  set_role->add_option("--role", role, "the new role")->required();
  auto* activate = user->add_subcommand("activate", "Allow a user to sign in again");
  activate->add_option("--email", email, "the user's email")->required();
  auto* deactivate = user->add_subcommand("deactivate", "Block a user and end their sessions");
  deactivate->add_option("--email", email, "the user's email")->required();
  auto* set_password = user->add_subcommand(
      "set-password",
      "Set a user's password from the first line of stdin; ends their sessions and linked "
      "identities (passkeys stay second factors only), as a reset by mail; with mail configured, "
      "tells them");
  set_password->add_option("--email", email, "the user's email")->required();
  bool keep_api_keys = false;
  set_password->add_flag("--keep-api-keys", keep_api_keys,
                         "keep the user's API keys (default: revoke them, as the API does)");
  auto* reset_mfa = user->add_subcommand(
      "reset-mfa",
      "Remove every second factor and recovery code of a user (a lost device); with mail "
      "configured, tells them");
  reset_mfa->add_option("--email", email, "the user's email")->required();

  std::string import_file;
  auto* user_import = user->add_subcommand(
      "import",
      "Import users from JSON lines (bcrypt, argon2, passlib/Django PBKDF2 and Keycloak hashes "
      "verified as they are); one JSON result per line on stdout, totals on stderr");
  user_import->add_option("file", import_file, "the file, or - for stdin")->required();
  std::string seed_url;
  auto* import_seed = app.add_subcommand(
      "import-seed",
      "Import the FastAPI seed's users table in place (its tokens then work with "
      "LEGACY_SECRET_KEY)");
  import_seed
      ->add_option("--database-url", seed_url,
                   "the seed's DATABASE_URL (sqlite:///app.db or postgresql://...)")
      ->required();

  auto* mail = app.add_subcommand("mail", "Mail delivery");
  mail->require_subcommand(1);
  std::string mail_to;
  auto* mail_test = mail->add_subcommand(
      "test", "Send a test message now through SMTP_URL or MAIL_FILE and report the outcome");
  mail_test->add_option("--to", mail_to, "the recipient's address")->required();

  // The settings under every command's help, formatted only when help is printed (building the
  // text took 1.4 ms of every start).
  const std::function<void(CLI::App&)> withSettingsHelp = [&](CLI::App& command) {
    command.footer([] {
      std::string text = variablesHelp();
      text.pop_back();  // CLI11 adds the newline after a footer made on demand
      return text;
    });
    for (CLI::App* sub : command.get_subcommands({})) withSettingsHelp(*sub);
  };
  withSettingsHelp(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // `gatehouse bogus` or `gatehouse user bogus`: CLI11 says a subcommand is required, which
    // reads as if none was typed. Name the word it did not know, and where to look.
    std::string path = "gatehouse";
    const CLI::App* at = &app;
    while (!at->get_subcommands().empty()) {
      at = at->get_subcommands().front();
      path += " " + at->get_name();
    }
    if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
      // A word, not an option (`gatehouse --bogus` is CLI11's own "not expected").
      if (const auto extra = app.remaining(true);
          !extra.empty() && !extra.front().starts_with('-') &&
          !at->get_subcommands({}).empty()) {  // a command of commands: the word was one
        std::cerr << "gatehouse: unknown command '" << extra.front() << "'; " << path
                  << " --help lists the commands\n";
        return 2;
      }
    }
    // CLI11 repeats the arguments it did not expect: a mistyped option's value is often the
    // password (`--passwd P`, `set-password --password P`; an outside attack found it on the
    // terminal and in a CI log). Named by count only.
    if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
      std::cerr << "gatehouse: " << app.remaining(true).size()
                << " argument(s) not expected (not repeated here: one may be a secret); " << path
                << " --help lists the options\n";
      return 2;
    }
    // Likewise a value that is not of its option's type (`--after S3cr3t`, a password shifted one
    // place: a review): the option is named, the value not.
    if (dynamic_cast<const CLI::ConversionError*>(&e) != nullptr ||
        dynamic_cast<const CLI::ValidationError*>(&e) != nullptr) {
      // CLI11 names the option as "--name" somewhere in its message, which also holds the value.
      const std::string said = e.what();
      std::string option;
      for (std::size_t pos = said.find("--"); pos != std::string::npos && option.empty();
           pos = said.find("--", pos + 2)) {
        if (pos == 0 || said[pos - 1] == ' ')
          option = said.substr(pos, said.find_first_of(" =:", pos) - pos);
      }
      std::cerr << "gatehouse: " << (option.starts_with("-") ? option + ": " : std::string())
                << "a value is not what the option takes (not repeated here: it may be a "
                   "secret); "
                << path << " --help lists the options\n";
      return 2;
    }
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  // A core dump (Ctrl-\, a crash, the watchdog's SIGABRT) would put on disk what the process
  // holds: a password read from stdin or in a login, an import's lines, the key ring, the key
  // encryption key, the SMTP password (a review; then an outside attack read all of them in a
  // server's core, written into its data directory, where backups copy it). So none, the
  // server's included. Not dumpable either: a core_pattern piping to a helper ignores the size
  // limit (a review), and another process of the same user cannot read its memory through ptrace.
  {
    const rlimit none{0, 0};
    (void)::setrlimit(RLIMIT_CORE, &none);
    (void)::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  }
  (void)app::hideOptionValues(argc, argv, "--password");
  (void)app::hideOptionValues(argc, argv, "--database-url");  // import-seed's: it holds one too
  if (*create && !password_stdin && password_arg.empty()) {
    std::cerr << "gatehouse: user create needs --password-stdin or --password\n";
    return 2;
  }

  // The command line, then the environment, then the file.
  const config::Lookup environment = config::processEnvironment();
  const config::Lookup with_flags = [&](const std::string& name) -> std::optional<std::string> {
    if (name == "GATEHOUSE_LISTEN" && !listen.empty()) return listen;
    return environment(name);
  };
  auto sources = config::Sources::read(
      config_file.empty() ? std::nullopt : std::optional<std::filesystem::path>(config_file),
      with_flags);
  if (!sources) {
    if (*show && check) {
      // One line per problem, as for the settings themselves.
      std::string all = sources.error().message;
      for (std::size_t p = all.find("; "); p != std::string::npos; p = all.find("; ", p))
        all.replace(p, 2, "\ngatehouse: ");
      std::cerr << "gatehouse: " << all << "\n";
      return 1;
    }
    std::cerr << "gatehouse: configuration error: " << sources.error().message << "\n";
    return 1;
  }
  std::vector<std::string> problems;
  auto cfg = config::load(sources->lookup(), &problems);
  if (*show && check) return checkConfiguration(*sources, cfg, problems);
  if (!cfg) {
    std::cerr << "gatehouse: configuration error: " << cfg.error().message << "\n";
    return 1;
  }
  if (*show) {
    std::cout << "gatehouse " << core::kVersion << "\n"
              << "settings (environment first, then "
              << (sources->file() ? sources->file()->string() : std::string("no file")) << "):\n";
    for (const auto& line : config::describeSources(*sources)) std::cout << "  " << line << "\n";
    std::cout << "effective:\n";
    for (const auto& line : config::describe(*cfg)) std::cout << "  " << line << "\n";
    return 0;
  }
  if (*serve) return app::serve(*cfg);
  // Commands key their audit records, and seal their notices, under the server's master secret.
  core::SystemClock clock;
  const cli::KeyAccess access{
      [&cfg, &clock](store::Store& db) { return app::storedMasterSecret(*cfg, db, clock); },
      app::publicUrl(*cfg),
      [&cfg, &clock](store::Store& db) { return app::storedMasterSecret(*cfg, db, clock, false); }};
  if (*migrate) return cli::migrate(*cfg, std::cout, std::cerr);
  if (*mail_test) return cli::mailTest(*cfg, mail_to, std::cout, std::cerr);
  if (*audit_verify) return cli::auditVerify(*cfg, access, unkeyed_before, std::cout, std::cerr);
  if (*keys_rotate || *keys_list)
    return keysCommand(*cfg, static_cast<bool>(*keys_rotate), rotate_after, rotate_compromised);

  auto policy = app::loadPolicy(*cfg);
  if (!policy) {
    std::cerr << "gatehouse: " << policy.error().message << "\n";
    return 1;
  }
  if (*roles) {
    for (const auto& name : policy->roles()) {
      std::cout << name << ":";
      for (const auto& permission : policy->permissionsOf(name)) std::cout << " " << permission;
      std::cout << "\n";
    }
    return 0;
  }
  if (*create) {
    create_args.password = password_stdin ? readPasswordLine() : password_arg;
    return cli::userCreate(*cfg, *policy, access, create_args, std::cout, std::cerr);
  }
  if (*user_import) {
    if (import_file == "-")
      return cli::userImport(*cfg, *policy, access, std::cin, std::cout, std::cerr);
    std::ifstream in(import_file, std::ios::binary);
    if (!in) {
      std::cerr << "gatehouse: cannot read " << import_file << "\n";
      return 1;
    }
    return cli::userImport(*cfg, *policy, access, in, std::cout, std::cerr);
  }
  if (*import_seed) return cli::importSeed(*cfg, *policy, access, seed_url, std::cout, std::cerr);
  if (*list) return cli::userList(*cfg, std::cout, std::cerr);
  if (*client_create || *client_rotate) {
    // Before the master secret, which a database without one gets here (a review: the refusal
    // said nothing was changed after it was made).
    if (cli::refusesWithoutAuditSink(*cfg, std::cerr)) return 1;
    // Client secrets are hashed under a key from the server's never-rotated secret.
    auto db = cli::openExisting(*cfg, std::cerr);
    if (!db) return 1;
    auto secret = app::masterSecret(*cfg, *db, clock);
    auto key = secret ? keyring::opClientSecretKey(*secret)
                      : core::Result<std::string>(tl::unexpected(secret.error()));
    if (!key) {
      std::cerr << "gatehouse: " << key.error().message << "\n";
      return 1;
    }
    if (*client_rotate)
      return cli::clientRotateSecret(*cfg, *policy, access, *key, client_id, client_json, std::cout,
                                     std::cerr);
    if (!client_scope.empty()) client_args.scope = client_scope;
    return cli::clientCreate(*cfg, *policy, access, *key, client_args, client_json, std::cout,
                             std::cerr);
  }
  if (*client_list)
    return cli::clientList(*cfg, *policy, access, client_json, std::cout, std::cerr);
  if (*client_delete)
    return cli::clientDelete(*cfg, *policy, access, client_id, std::cout, std::cerr);
  if (*key_create) {
    // Given, it is checked as the API checks it (1 to 3650): 0 or -5 is an error, never "no
    // expiry".
    if (key_create->get_option("--expires-in-days")->count() > 0)
      key_args.expires_in_days = key_days;
    return cli::apiKeyCreate(*cfg, *policy, access, key_args, std::cout, std::cerr);
  }
  if (*key_list) return cli::apiKeyList(*cfg, *policy, access, key_email, std::cout, std::cerr);
  if (*key_revoke)
    return cli::apiKeyRevoke(*cfg, *policy, access, key_email, key_id, std::cout, std::cerr);
  if (*set_role) return cli::userSetRole(*cfg, *policy, access, email, role, std::cout, std::cerr);
  if (*activate)
    return cli::userSetActive(*cfg, *policy, access, email, true, std::cout, std::cerr);
  if (*deactivate)
    return cli::userSetActive(*cfg, *policy, access, email, false, std::cout, std::cerr);
  if (*reset_mfa) return cli::userResetMfa(*cfg, *policy, access, email, std::cout, std::cerr);
  if (*set_password)
    return cli::userSetPassword(*cfg, *policy, access, email, readPasswordLine(), keep_api_keys,
                                std::cout, std::cerr);
  return 2;
}
