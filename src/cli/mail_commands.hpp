#pragma once

#include <ostream>
#include <string>

#include "config/config.hpp"

namespace gatehouse::cli {

// `gatehouse mail test --to ADDRESS`: renders the "test" template and hands it to the configured
// transport at once (not through the outbox), so an operator sees whether delivery works and,
// if not, why. 0 when the next hop took it, 1 otherwise.
int mailTest(const config::Config& config, const std::string& to, std::ostream& out,
             std::ostream& err);

}  // namespace gatehouse::cli
