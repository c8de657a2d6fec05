#!/usr/bin/env bash
# Release archives in the layout a provider registry and a network mirror expect:
#
#   $DIST_DIR/terraform-provider-aksid_<v>_<os>_<arch>.zip  holding terraform-provider-aksid_v<v>
#   $DIST_DIR/terraform-provider-aksid_<v>_manifest.json    (terraform-registry-manifest.json)
#   $DIST_DIR/terraform-provider-aksid_<v>_SHA256SUMS       (every zip and the manifest)
#   $DIST_DIR/mirror/registry.terraform.io/aksid/aksid/     network mirror: index.json, <v>.json, zips
#
# <v> is the package version in Cargo.toml. Each platform is built where this machine can: the
# host's own with plain cargo, others only with the Rust target installed and a C cross compiler
# for aws-lc-sys. A platform that cannot be built is skipped with the reason; the run fails only
# when nothing was built.
#
# Environment:
#   DIST_TARGETS       platforms (default: linux_amd64 linux_arm64 darwin_amd64 darwin_arm64)
#   DIST_PROFILE       cargo profile (default: release)
#   DIST_DIR           output directory (default: <repo>/dist; emptied first)
#   DIST_HOST_BINARY   package this already built binary for the host platform instead of
#                      running cargo (tests use the binary cargo built for them)
#   CC_<triple>        C cross compiler for a target, e.g. CC_aarch64_unknown_linux_gnu
#   SOURCE_DATE_EPOCH  timestamp inside the zips (default: the last commit's), so the same
#                      binary gives the same zip
set -euo pipefail
REPO="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
NAME=terraform-provider-aksid
CARGO="${CARGO:-cargo}"
PROFILE="${DIST_PROFILE:-release}"
DIST="${DIST_DIR:-$REPO/dist}"
TARGETS="${DIST_TARGETS:-linux_amd64 linux_arm64 darwin_amd64 darwin_arm64}"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
# The [package] version (the workspace table comes first and has none).
VERSION="$(awk '/^\[package\]/{p=1;next} /^\[/{p=0} p && /^version *=/{gsub(/[" ]/,"",$0); sub(/^version=/,""); print; exit}' "$REPO/Cargo.toml")"
[ -n "$VERSION" ] || { echo "dist: no [package] version in Cargo.toml" >&2; exit 1; }
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || echo 315532800)}"

say() { echo "dist: $*" >&2; }

triple_of() {
  case "$1" in
    linux_amd64) echo x86_64-unknown-linux-gnu ;;
    linux_arm64) echo aarch64-unknown-linux-gnu ;;
    darwin_amd64) echo x86_64-apple-darwin ;;
    darwin_arm64) echo aarch64-apple-darwin ;;
    *) return 1 ;;
  esac
}

# The C compiler cargo's cc crate would use for a target: CC_<triple>, else the usual name.
cross_cc() {
  local triple="$1" var="CC_${1//-/_}"
  if [ -n "${!var:-}" ]; then echo "${!var}"; return; fi
  case "$triple" in
    aarch64-unknown-linux-gnu) echo aarch64-linux-gnu-gcc ;;
    x86_64-apple-darwin) echo o64-clang ;;   # osxcross names
    aarch64-apple-darwin) echo oa64-clang ;;
  esac
}

# Print the path of the built binary for a platform; return 1 (reason on stderr) when this
# machine cannot build it, 2 when the build itself failed.
build() {
  local platform="$1" triple host sysroot cc
  triple="$(triple_of "$platform")" || { say "skip $platform: unknown platform (known: linux_amd64 linux_arm64 darwin_amd64 darwin_arm64)"; return 1; }
  host="$(rustc -vV | sed -n 's/^host: //p')"
  if [ "$triple" = "$host" ]; then
    if [ -n "${DIST_HOST_BINARY:-}" ]; then echo "$DIST_HOST_BINARY"; return; fi
    # No --target for the host: cargo reuses target/<profile> instead of a second full build.
    "$CARGO" build --locked --profile "$PROFILE" --bin "$NAME" >&2 || return 2
    echo "$TARGET_DIR/$(profile_dir)/$NAME"
    return
  fi
  sysroot="$(rustc --print sysroot)"
  if [ ! -d "$sysroot/lib/rustlib/$triple/lib" ]; then
    say "skip $platform: the Rust standard library for $triple is not installed (rustup target add $triple)"
    return 1
  fi
  cc="$(cross_cc "$triple")"
  if ! command -v "$cc" >/dev/null 2>&1; then
    say "skip $platform: no C cross compiler for $triple ($cc; aws-lc-sys needs one): set CC_${triple//-/_}"
    return 1
  fi
  local linker_var="CARGO_TARGET_$(echo "$triple" | tr 'a-z-' 'A-Z_')_LINKER"
  env "CC_${triple//-/_}=$cc" "$linker_var=${!linker_var:-$cc}" \
    "$CARGO" build --locked --profile "$PROFILE" --bin "$NAME" --target "$triple" >&2 || return 2
  echo "$TARGET_DIR/$triple/$(profile_dir)/$NAME"
}

# cargo names the dev profile's directory debug.
profile_dir() { if [ "$PROFILE" = dev ]; then echo debug; else echo "$PROFILE"; fi; }

# One zip with one file, fixed timestamp and mode: the same binary always gives the same bytes.
make_zip() {
  python3 - "$1" "$2" "$3" <<'PY'
import os, sys, time, zipfile
src, member, out = sys.argv[1:4]
stamp = time.gmtime(max(int(os.environ["SOURCE_DATE_EPOCH"]), 315532800))[:6]
info = zipfile.ZipInfo(member, date_time=stamp)
info.external_attr = (0o100755 << 16)
info.compress_type = zipfile.ZIP_DEFLATED
info.create_system = 3  # unix, so the mode above is honoured by unzip
with open(src, "rb") as f, zipfile.ZipFile(out, "w") as z:
    z.writestr(info, f.read())
PY
}

# The network mirror's <version>.json: each archive with its h1 (hash of the unpacked files, as
# Terraform's lock file records) and zh (sha256 of the zip) hashes; urls relative to this file.
mirror_json() {
  python3 - "$@" <<'PY'
import base64, hashlib, json, sys, zipfile
out, archives = sys.argv[1], sys.argv[2:]
entries = {}
for path in archives:
    platform = "_".join(path.rsplit(".zip", 1)[0].rsplit("_", 2)[-2:])
    with open(path, "rb") as f:
        zh = hashlib.sha256(f.read()).hexdigest()
    with zipfile.ZipFile(path) as z:
        lines = "".join(
            "%s  %s\n" % (hashlib.sha256(z.read(n)).hexdigest(), n) for n in sorted(z.namelist())
        )
    h1 = base64.b64encode(hashlib.sha256(lines.encode()).digest()).decode()
    entries[platform] = {"url": path.rsplit("/", 1)[-1], "hashes": ["h1:" + h1, "zh:" + zh]}
with open(out, "w") as f:
    json.dump({"archives": entries}, f, indent=2, sort_keys=True)
    f.write("\n")
PY
}

main() {
  rm -rf "$DIST" && mkdir -p "$DIST"
  local built=() skipped=() platform bin rc
  for platform in $TARGETS; do
    rc=0
    bin="$(build "$platform")" || rc=$?
    case "$rc" in
      0) ;;
      1) skipped+=("$platform"); continue ;;
      *) say "building $platform failed"; exit 1 ;;
    esac
    [ -x "$bin" ] || { say "$platform: no executable at $bin"; exit 1; }
    make_zip "$bin" "${NAME}_v${VERSION}" "$DIST/${NAME}_${VERSION}_${platform}.zip"
    built+=("$platform")
  done
  if [ "${#built[@]}" -eq 0 ]; then
    say "nothing built (skipped: ${skipped[*]})"
    exit 1
  fi
  cp "$REPO/terraform-registry-manifest.json" "$DIST/${NAME}_${VERSION}_manifest.json"
  (cd "$DIST" && sha256sum -- *.zip "${NAME}_${VERSION}_manifest.json" > "${NAME}_${VERSION}_SHA256SUMS")

  local mirror="$DIST/mirror/registry.terraform.io/aksid/aksid"
  mkdir -p "$mirror"
  cp "$DIST"/*.zip "$mirror/"
  printf '{"versions":{"%s":{}}}\n' "$VERSION" > "$mirror/index.json"
  mirror_json "$mirror/$VERSION.json" "$mirror"/*.zip

  say "version $VERSION, profile $PROFILE, in $DIST"
  say "built: ${built[*]}"
  if [ "${#skipped[@]}" -gt 0 ]; then say "skipped: ${skipped[*]} (see the reasons above)"; fi
}

main
