#!/usr/bin/env bash
# Builds candor-ffi and the candor binary (debug), generates the Kotlin
# bindings from the library (uniffi-bindgen of candor-ffi-bindgen, library
# mode), compiles them with CandorTest.kt (and CandorBench.kt) with kotlinc,
# and runs the tests on the JVM against a real `candor serve`.
#
#   KOTLINC   kotlinc-jvm to use (default: on PATH)
#   JNA_JAR   JNA's jar (default: Debian's /usr/share/java/jna.jar)
#   PROFILE   cargo profile of the library (default: dev; BENCH=1 with release)
#   BENCH=1   run the crossing benchmark instead of the tests
set -euo pipefail
cd "$(dirname "$0")/../../.."
root=$(pwd)
target=${CARGO_TARGET_DIR:-$root/target}
profile=${PROFILE:-dev}
profile_dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
kotlinc=${KOTLINC:-kotlinc-jvm}
jna=${JNA_JAR:-/usr/share/java/jna.jar}
out="$target/kotlin"

cargo build -q -p candor-ffi --profile "$profile"
[ "${BENCH:-0}" = 1 ] || cargo build -q -p candor
lib="$target/$profile_dir/libcandor_ffi.so"
rm -rf "$out/src"
cargo run -q -p candor-ffi-bindgen -- generate --library "$lib" --language kotlin \
  --out-dir "$out/src" --no-format
main=CandorTestKt
sources=("$out/src/org/candor/candor.kt" crates/ffi/kotlin/CandorTest.kt)
if [ "${BENCH:-0}" = 1 ]; then
  main=CandorBenchKt
  sources=("$out/src/org/candor/candor.kt" crates/ffi/kotlin/CandorBench.kt)
fi
"$kotlinc" -nowarn -include-runtime -cp "$jna" -d "$out/$main.jar" "${sources[@]}"
CANDOR_ROOT="$root" CANDOR_BIN="$target/debug/candor" \
  java -Djna.library.path="$target/$profile_dir" -cp "$out/$main.jar:$jna" "$main"
