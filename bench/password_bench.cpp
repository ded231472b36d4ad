// Password hashing cost per call, for the record: bcrypt at cost 12 (the default) and argon2id
// at the OWASP minimum, next to one SHA-256 of the same password as the "raw" floor.
#include "bench/ratio_reporter.hpp"
#include "crypto/digest.hpp"
#include "password/argon2.hpp"
#include "password/bcrypt.hpp"

namespace {

using namespace gatehouse;

void bcrypt12(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(password::bcryptHash("Correct-Horse-9", 12));
}
void argon2idOwasp(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(password::argon2idHash("Correct-Horse-9", {}));
}
void sha256(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(crypto::sha256("Correct-Horse-9"));
}

}  // namespace

BENCHMARK(bcrypt12)->Unit(benchmark::kMillisecond)->Iterations(8);
BENCHMARK(argon2idOwasp)->Unit(benchmark::kMillisecond)->Iterations(8);
BENCHMARK(sha256);
BENCHMARK_MAIN();
