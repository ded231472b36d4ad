#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gatehouse::crypto {

// Why `bytes` cannot be a secret, or nullopt when they can: under 32 bytes; a value published as
// an example (the FastAPI tutorial's SECRET_KEY, the placeholders of this project's docs), white
// space at its ends and the case of its letters aside; fewer than 8 distinct byte values (a file a
// crash zeroed, one character repeated: any key made at random has far more, hex ones too); or
// one pattern repeated ("changeme-changeme-…"). A phrase typed by hand can pass all of these: the
// rules catch accidents and copies, they do not measure entropy.
[[nodiscard]] std::optional<std::string> notASecret(std::string_view bytes);

}  // namespace gatehouse::crypto
