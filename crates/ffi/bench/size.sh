#!/usr/bin/env bash
# What the FFI library adds to an app, stripped, and where its bytes go
# (BENCHMARKS.md, "FFI library size"). Release builds; several minutes.
#
#   crates/ffi/bench/size.sh            the table
#   TOP=40 crates/ffi/bench/size.sh     ... and the 40 largest crates
set -euo pipefail
cd "$(dirname "$0")/../../.."
target=${CARGO_TARGET_DIR:-$(pwd)/target}
work="$target/ffi-size"
mkdir -p "$work"

# The baseline: an empty cdylib with the same std and panic strategy.
echo '#[unsafe(no_mangle)] pub extern "C" fn candor_empty() -> u32 { 1 }' > "$work/empty.rs"
rustc --edition 2024 --crate-type cdylib -C opt-level=3 -C strip=symbols \
  -o "$work/libempty.so" "$work/empty.rs"
base=$(stat -c %s "$work/libempty.so")

size_of() { # profile, features args...
  local profile=$1; shift
  cargo build -q -p candor-ffi --profile "$profile" "$@"
  local lib="$target/$profile/libcandor_ffi.so"
  cp "$lib" "$work/lib.so" && strip "$work/lib.so"
  stat -c %s "$work/lib.so"
}

printf '| build | stripped bytes | added (over an empty cdylib of %s bytes) |\n|---|---|---|\n' "$base"
for row in "release|--no-default-features|release, no http" \
           "release||release, with http" \
           "release-ffi|--no-default-features|release-ffi, no http" \
           "release-ffi||release-ffi, with http"; do
  IFS='|' read -r profile features label <<<"$row"
  # shellcheck disable=SC2086
  bytes=$(size_of "$profile" $features)
  printf '| %s | %s | +%s (%.2f MB) |\n' "$label" "$bytes" "$((bytes - base))" \
    "$(echo "($bytes - $base) / 1000000" | bc -l)"
done

if [ -n "${TOP:-}" ]; then
  # Where the bytes go: the symbol sizes of the release build without http
  # (symbols kept), summed per crate.
  cargo build -q -p candor-ffi --release --no-default-features
  python3 crates/ffi/bench/by_crate.py "$target/release/libcandor_ffi.so" "$TOP"
fi
