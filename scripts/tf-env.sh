#!/usr/bin/env bash
# Lay out a filesystem mirror with the freshly built provider and print the environment that
# points Terraform at it:   eval "$(scripts/tf-env.sh [debug|release])"
# Terraform then installs aksid/aksid from the mirror, exactly as from a registry.
set -euo pipefail
REPO="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
PROFILE="${1:-release}"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -1)"
BIN="$REPO/target/$PROFILE/terraform-provider-aksid"
[ -x "$BIN" ] || { echo "build first: cargo build --$PROFILE (missing $BIN)" >&2; exit 1; }
MIRROR="$REPO/target/mirror"
DEST="$MIRROR/registry.terraform.io/aksid/aksid/$VERSION/linux_amd64"
mkdir -p "$DEST"
cp -f "$BIN" "$DEST/terraform-provider-aksid_v$VERSION"
RC="$REPO/target/terraform.rc"
cat > "$RC" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$MIRROR"
    include = ["registry.terraform.io/aksid/aksid"]
  }
  filesystem_mirror {
    path    = "$REPO/.tools/mirror"
    include = ["registry.terraform.io/hashicorp/null"]
  }
  direct {
    exclude = ["registry.terraform.io/aksid/aksid", "registry.terraform.io/hashicorp/null"]
  }
}
RC
echo "export TF_CLI_CONFIG_FILE='$RC' CHECKPOINT_DISABLE=1"
echo "export TERRAFORM='$REPO/.tools/bin/terraform-1.0.3'"
