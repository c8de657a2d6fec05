#!/usr/bin/env bash
# The README demo: real Terraform 1.0.3 drives the provider binary over gRPC + mTLS.
set -euo pipefail
REPO="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
eval "$("$REPO/scripts/tf-env.sh" release)"
WORK="$REPO/target/demo"
rm -rf "$WORK" && mkdir -p "$WORK"
cp "$REPO"/examples/role-definitions/*.tf "$WORK/"
cd "$WORK"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
step "terraform init (installs aksid/aksid from the local mirror)"
"$TERRAFORM" init -no-color | grep -E "Installing|Installed|initialized"
step "terraform apply: built-in roles resolved offline"
"$TERRAFORM" apply -auto-approve -no-color | sed -n '/^Outputs:/,$p'
step "terraform plan -detailed-exitcode after apply (0 = no changes)"
set +e; "$TERRAFORM" plan -detailed-exitcode -no-color >/dev/null; code=$?; set -e
echo "exit code: $code"
step "a misspelled role is a plan-time error that points at the attribute"
cat > typo.tf <<'TF'
data "aksid_role_definition" "typo" {
  name = "Storage Blod Data Reader"
}
TF
"$TERRAFORM" plan -no-color 2>&1 | sed -n '/Error:/,$p' || true
rm -f typo.tf
