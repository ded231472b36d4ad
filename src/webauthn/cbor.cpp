#include "webauthn/cbor.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <string>

#include "core/utf8.hpp"
#include "dynlib/libcbor.hpp"

namespace gatehouse::webauthn::cbor {
namespace {

// A container being filled: how many items it still expects (a map counts keys and values).
struct Frame {
  Value value;
  std::uint64_t remaining = 0;
  std::optional<Value> key;  // a map's key waiting for its value
  // A map's keys so far, so a repeat is found in log time: comparing each key with every earlier
  // one made a 16 KiB map of 4,000 keys cost 110 ms (found by an outside attack).
  std::set<std::int64_t> integer_keys;
  std::set<std::string, std::less<>> text_keys;
};

// The decoder's state between libcbor's callbacks.
struct Builder {
  const Limits* limits = nullptr;
  std::vector<Frame> stack;
  std::optional<Value> root;
  std::string error;

  bool failed() const { return !error.empty(); }
  void fail(std::string why) {
    if (error.empty()) error = std::move(why);
  }

  // Closes every frame its last item completed, then hands a finished value up.
  void complete(Value v) {
    if (failed()) return;
    for (;;) {
      if (stack.empty()) {
        root = std::move(v);
        return;
      }
      Frame& top = stack.back();
      if (auto* arr = std::get_if<Array>(&top.value.v)) {
        arr->push_back(std::move(v));
      } else {
        auto& map = std::get<Map>(top.value.v);
        if (!top.key) {
          if (v.integer() == nullptr && v.text() == nullptr)
            return fail("a map key that is not an integer or text");
          const bool repeated = v.integer() != nullptr
                                    ? !top.integer_keys.insert(*v.integer()).second
                                    : !top.text_keys.insert(*v.text()).second;
          if (repeated) return fail("a repeated map key");
          top.key = std::move(v);
        } else {
          map.push_back(MapEntry{std::move(*top.key), std::move(v)});
          top.key.reset();
        }
      }
      if (--top.remaining > 0) return;
      v = std::move(top.value);
      stack.pop_back();
    }
  }

  void open(Value container, std::uint64_t items) {
    if (failed()) return;
    if (stack.size() >= limits->max_depth) return fail("nested too deeply");
    if (items == 0) return complete(std::move(container));
    stack.push_back(Frame{std::move(container), items, std::nullopt});
  }
};

Builder& of(void* context) { return *static_cast<Builder*>(context); }

void onUnsigned(void* c, std::uint64_t n) {
  if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return of(c).fail("an integer out of range");
  of(c).complete(Value{static_cast<std::int64_t>(n)});
}
void onNegative(void* c, std::uint64_t n) {
  // The encoded n stands for -1 - n.
  if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return of(c).fail("an integer out of range");
  of(c).complete(Value{-1 - static_cast<std::int64_t>(n)});
}
void onU8(void* c, std::uint8_t n) { onUnsigned(c, n); }
void onU16(void* c, std::uint16_t n) { onUnsigned(c, n); }
void onU32(void* c, std::uint32_t n) { onUnsigned(c, n); }
void onU64(void* c, std::uint64_t n) { onUnsigned(c, n); }
void onN8(void* c, std::uint8_t n) { onNegative(c, n); }
void onN16(void* c, std::uint16_t n) { onNegative(c, n); }
void onN32(void* c, std::uint32_t n) { onNegative(c, n); }
void onN64(void* c, std::uint64_t n) { onNegative(c, n); }

void onBytes(void* c, cbor_data data, std::uint64_t length) {
  of(c).complete(Value{Value::Bytes{std::string(reinterpret_cast<const char*>(data), length)}});
}
void onText(void* c, cbor_data data, std::uint64_t length) {
  std::string text(reinterpret_cast<const char*>(data), length);
  if (!core::isValidUtf8(text)) return of(c).fail("a text string that is not UTF-8");
  of(c).complete(Value{Value::Text{std::move(text)}});
}
void onArray(void* c, std::uint64_t size) { of(c).open(Value{Array{}}, size); }
void onMap(void* c, std::uint64_t size) {
  if (size > std::numeric_limits<std::uint64_t>::max() / 2) return of(c).fail("a map too large");
  of(c).open(Value{Map{}}, size * 2);
}
void onNull(void* c) { of(c).complete(Value{nullptr}); }
void onBool(void* c, bool b) { of(c).complete(Value{b}); }

void onIndefinite(void* c) { of(c).fail("an indefinite length"); }
void onTag(void* c, std::uint64_t) { of(c).fail("a tag"); }
void onFloat(void* c, float) { of(c).fail("a floating-point number"); }
void onDouble(void* c, double) { of(c).fail("a floating-point number"); }
void onUndefined(void* c) { of(c).fail("undefined"); }

// Every callback is set below (libcbor calls each one unchecked); a libcbor whose struct has more
// than the 24 set here fails this.
static_assert(sizeof(cbor_callbacks) == 24 * sizeof(void*), "cbor_callbacks has members not set");
cbor_callbacks strictCallbacks() {
  cbor_callbacks cb{};
  cb.uint8 = onU8;
  cb.uint16 = onU16;
  cb.uint32 = onU32;
  cb.uint64 = onU64;
  cb.negint8 = onN8;
  cb.negint16 = onN16;
  cb.negint32 = onN32;
  cb.negint64 = onN64;
  cb.byte_string = onBytes;  // libcbor's definite forms
  cb.string = onText;
  cb.array_start = onArray;
  cb.map_start = onMap;
  cb.byte_string_start = onIndefinite;  // and its indefinite ones
  cb.string_start = onIndefinite;
  cb.indef_array_start = onIndefinite;
  cb.indef_map_start = onIndefinite;
  cb.indef_break = onIndefinite;
  cb.tag = onTag;
  cb.float2 = onFloat;
  cb.float4 = onFloat;
  cb.float8 = onDouble;
  cb.undefined = onUndefined;
  cb.null = onNull;
  cb.boolean = onBool;
  return cb;
}

core::Error invalid(std::string why) {
  return core::Error{core::Errc::InvalidArgument, "CBOR: " + std::move(why)};
}

}  // namespace

bool Value::operator==(const Value& other) const { return v == other.v; }

const Value* Value::at(std::int64_t key) const {
  const Map* m = map();
  if (m == nullptr) return nullptr;
  for (const auto& [k, val] : *m) {
    if (const auto* i = k.integer(); i != nullptr && *i == key) return &val;
  }
  return nullptr;
}

const Value* Value::at(std::string_view key) const {
  const Map* m = map();
  if (m == nullptr) return nullptr;
  for (const auto& [k, val] : *m) {
    if (const auto* t = k.text(); t != nullptr && *t == key) return &val;
  }
  return nullptr;
}

core::Result<Decoded> decodePrefix(std::string_view input, const Limits& limits) {
  if (input.size() > limits.max_bytes) return tl::unexpected(invalid("input too large"));
  auto library = dynlib::libcbor();
  if (!library)
    return core::makeError(core::Errc::Unavailable,
                           "passkeys need libcbor0.8: " + library.error().message);
  static const cbor_callbacks kCallbacks = strictCallbacks();
  Builder builder;
  builder.limits = &limits;
  std::size_t offset = 0;
  // One header (or one whole string) per call, until the first item is complete.
  while (!builder.root && !builder.failed()) {
    if (offset >= input.size()) return tl::unexpected(invalid("truncated input"));
    const auto* data = reinterpret_cast<cbor_data>(input.data()) + offset;
    const auto r =
        (*library)->cbor_stream_decode(data, input.size() - offset, &kCallbacks, &builder);
    if (r.status == CBOR_DECODER_NEDATA) return tl::unexpected(invalid("truncated input"));
    if (r.status != CBOR_DECODER_FINISHED || r.read == 0)
      return tl::unexpected(invalid("malformed input"));
    offset += r.read;
  }
  if (builder.failed()) return tl::unexpected(invalid(builder.error));
  return Decoded{std::move(*builder.root), offset};
}

core::Result<Value> decode(std::string_view input, const Limits& limits) {
  auto decoded = decodePrefix(input, limits);
  if (!decoded) return tl::unexpected(decoded.error());
  if (decoded->consumed != input.size()) return tl::unexpected(invalid("trailing bytes"));
  return std::move(decoded->value);
}

}  // namespace gatehouse::webauthn::cbor
