#!/usr/bin/env bash
# Checks that the library crates stay libraries (CI runs this after the tests):
#
# 1. An embed — a crate outside this workspace that depends on the router and on openframe-stores with the
#    `sqlite` feature alone — pulls at most $MAX_EMBED_CRATES crates (`cargo tree -e normal`), and none of
#    the server program's or the other stores' (sqlx, sled, clap, mimalloc, toml, tracing-subscriber).
# 2. openframe-stores builds and passes its tests with each of its features alone, with none and with all;
#    the router builds alone.
# 3. Every library crate packages and its package builds (`cargo package --workspace`, as a publish would).
# 4. The public API of each library crate has no breaking change against the previous commit's
#    (cargo-semver-checks, installed at a pinned version when missing); a deliberate break is a new version.
#    Skipped when there is no previous commit or SEMVER_BASELINE=none.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

MAX_EMBED_CRATES=110
LIBRARIES=(openframe-core openframe-store-sqlite openframe-store-sled openframe-store-postgres openframe-stores openframe-http)
SEMVER_CHECKS_VERSION=0.51.0

say() { echo "library-checks: $*" >&2; }

# ---- 1. What an embed pulls in ----
embed=$(mktemp -d)
trap 'rm -rf "$embed"' EXIT
mkdir -p "$embed/src"
cat > "$embed/Cargo.toml" <<TOML
[package]
name = "openframe-embed-check"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
openframe-http = { path = "$root/crates/openframe-http" }
openframe-stores = { path = "$root/crates/openframe-stores", default-features = false, features = ["sqlite"] }

[workspace]
TOML
echo 'fn main() {}' > "$embed/src/main.rs"
# The workspace's lock file: the same versions, nothing fetched.
cp Cargo.lock "$embed/"
crates=$(cd "$embed" && cargo tree -e normal --prefix none --offline \
  | sed 's/ (\*)//; s/ (proc-macro)//; s/ (\/.*)//' | sort -u | grep -v '^openframe-embed-check ')
count=$(wc -l <<<"$crates")
say "an embed of the router with the sqlite store pulls $count crates (at most $MAX_EMBED_CRATES)"
[ "$count" -le "$MAX_EMBED_CRATES" ] || { echo "$crates" >&2; say "too many crates"; exit 1; }
if banned=$(grep -E '^(sqlx|sqlx-[a-z]+|sled|clap|mimalloc|libmimalloc-sys|toml|tracing-subscriber|metrics-exporter-prometheus|openframe-store-sled|openframe-store-postgres) ' <<<"$crates"); then
  say "an embed pulls what it must not:"; echo "$banned" >&2; exit 1
fi

# ---- 2. Each store feature alone ----
# Tested, not only built: with a store left out, its URL must be refused by name.
for features in "" sqlite sled postgres "sqlite,sled,postgres"; do
  say "cargo test -p openframe-stores --no-default-features --features '$features'"
  cargo test -q --locked -p openframe-stores --no-default-features --features "$features" --lib
done
say "cargo check -p openframe-http (no store)"
cargo check -q --locked -p openframe-http

# ---- 3. Packages ----
say "cargo package --workspace (each library crate packaged and built from its package)"
# Cargo takes a registry package of a given version to be immutable: it reuses the copy it unpacked into
# CARGO_HOME and what it compiled from it in the target directory. Earlier runs packaged other sources under
# the same version number, so drop both (no real registry has these names), building in a target directory
# of this step's own.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
rm -rf "$cargo_home"/registry/src/*/openframe-* "$cargo_home"/registry/cache/*/openframe-* \
  target/package target/library-checks
CARGO_TARGET_DIR=target/library-checks cargo package --workspace --locked --allow-dirty \
  --exclude openframe-server --exclude openframe-testkit --exclude openframe-benches -q

# ---- 4. Semver ----
baseline=${SEMVER_BASELINE:-$(git rev-parse -q --verify HEAD~1 || echo none)}
if [ "$baseline" = none ]; then
  say "no previous commit: semver checks skipped"
  exit 0
fi
if ! cargo semver-checks --version 2>/dev/null | grep -q "$SEMVER_CHECKS_VERSION"; then
  say "installing cargo-semver-checks $SEMVER_CHECKS_VERSION"
  cargo install -q --locked cargo-semver-checks --version "$SEMVER_CHECKS_VERSION"
fi
# A crate new since the baseline has nothing to break.
packages=()
for crate in "${LIBRARIES[@]}"; do
  if git cat-file -e "$baseline:crates/$crate/Cargo.toml" 2>/dev/null; then
    packages+=(--package "$crate")
  else
    say "$crate is new since $baseline: nothing to compare"
  fi
done
say "cargo semver-checks against $baseline"
cargo semver-checks check-release --baseline-rev "$baseline" --all-features "${packages[@]}"
