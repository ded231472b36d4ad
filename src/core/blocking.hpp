#pragma once

namespace gatehouse::core {

// Whether a call may wait on storage or the network. An I/O thread trying to answer a request
// from memory passes No; a call that would have to wait then answers Errc::WouldBlock and the
// request moves to a worker thread, which passes Yes.
enum class Wait { Yes, No };

}  // namespace gatehouse::core
