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

step "aksid-emulator: a local Azure (ARM + Entra) seeded with a hub-and-spoke landing zone"
eval "$("$REPO/scripts/emulator-env.sh" "$REPO/emulator/examples/seed.json" release)"
trap 'kill "$AKSID_EMULATOR_PID" 2>/dev/null || true' EXIT
echo "ARM endpoint: $AKSID_ARM_ENDPOINT (HTTPS, CA $AKSID_CA_CERTIFICATE)"
CLUSTER="$REPO/target/demo-cluster"
rm -rf "$CLUSTER" && mkdir -p "$CLUSTER" && cp "$REPO"/examples/cluster-identities/*.tf "$CLUSTER/"
cd "$CLUSTER"
"$TERRAFORM" init -no-color >/dev/null
step "terraform apply: the cluster's identities, read from ARM with a client secret"
"$TERRAFORM" apply -auto-approve -no-color | sed -n '/^Outputs:/,$p'
step "requests the emulator served"
python3 - "$AKSID_EMULATOR_ADMIN" "$AKSID_CA_CERTIFICATE" <<'PY'
import json, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
log = json.load(urllib.request.urlopen(sys.argv[1].rstrip("/") + "/requests", context=ctx))
for r in log:
    print(f"  {r['method']:6} {r['status']}  {r['path']}")
PY

step "aksid_cluster_identity_roles: the cluster's whole role matrix as one resource"
MATRIX="$REPO/target/demo-matrix"
rm -rf "$MATRIX" && mkdir -p "$MATRIX" && cp "$REPO"/examples/cluster-identity-roles/*.tf "$MATRIX/"
cd "$MATRIX"
"$TERRAFORM" init -no-color >/dev/null
"$TERRAFORM" apply -auto-approve -no-color 2>&1 | grep -E "Warning: Adopting|Apply complete" || true
"$TERRAFORM" output -no-color assignments
step "drift: delete one grant behind Terraform's back, then plan -refresh-only"
python3 - "$AKSID_EMULATOR_ADMIN" "$AKSID_CA_CERTIFICATE" "$("$TERRAFORM" output -json assignments | python3 -c 'import json,sys; print(json.load(sys.stdin)["control_plane/Network Contributor/vnet-spoke/snet-pods"])')" <<'PY'
import ssl, sys, urllib.parse, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
req = urllib.request.Request(sys.argv[1].rstrip("/") + "/role-assignments?id=" + urllib.parse.quote(sys.argv[3], safe=""), method="DELETE")
urllib.request.urlopen(req, context=ctx)
print("deleted", sys.argv[3])
PY
set +e; "$TERRAFORM" plan -refresh-only -detailed-exitcode -no-color | grep -E "key|has changed|snet-pods" | head -5; set -e
"$TERRAFORM" apply -auto-approve -no-color | grep -E "Apply complete"
"$TERRAFORM" destroy -auto-approve -no-color | grep -E "Destroy complete"

kill "$AKSID_EMULATOR_PID"; trap - EXIT
echo "emulator stopped"
