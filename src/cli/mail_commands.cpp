#include "cli/mail_commands.hpp"

#include <chrono>

#include "auth/validation.hpp"
#include "mail/mime.hpp"
#include "mail/templates.hpp"
#include "mail/transport.hpp"

namespace gatehouse::cli {

int mailTest(const config::Config& config, const std::string& to, std::ostream& out,
             std::ostream& err) {
  if (auto problem = auth::emailProblem(to); !problem.empty()) {
    err << "gatehouse: --to: " << problem << "\n";
    return 2;
  }
  auto transport = mail::transportFor(config.mail);
  if (!transport) {
    err << "gatehouse: mail is not configured: set SMTP_URL (and SMTP_FROM) or MAIL_FILE\n";
    return 1;
  }
  auto templates = mail::Templates::load(config.mail.template_dir);
  if (!templates) {
    err << "gatehouse: GATEHOUSE_TEMPLATE_DIR: " << templates.error().message << "\n";
    return 1;
  }
  // The template writes it in parentheses already.
  const std::string public_url = config.public_url.value_or("GATEHOUSE_PUBLIC_URL unset");
  auto content =
      templates->render("test", {{"product", config.mail.brand_name}, {"public_url", public_url}});
  if (!content) {
    err << "gatehouse: " << content.error().message << "\n";
    return 1;
  }
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  auto message = mail::compose(
      {config.mail.smtp_from, to, content->subject, content->text, content->html}, now);
  if (!message) {
    err << "gatehouse: " << message.error().message << "\n";
    return 1;
  }
  const auto from = mail::addressOf(config.mail.smtp_from).value_or("");
  if (auto sent = transport->send(from, to, *message); !sent) {
    err << "gatehouse: sending through " << transport->describe()
        << " failed: " << sent.error().message << "\n";
    return 1;
  }
  out << "test message to " << to << " handed to " << transport->describe() << "\n";
  return 0;
}

}  // namespace gatehouse::cli
