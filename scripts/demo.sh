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

step "aksid_pod_identity: two apps, an identity each, least-privilege roles, their Kubernetes objects"
PODS="$REPO/target/demo-pods"
rm -rf "$PODS" && mkdir -p "$PODS" && cp "$REPO"/examples/pod-identity/*.tf "$PODS/"
cd "$PODS"
# kubectl gets the same kubeconfig the provider uses: ARM's listClusterUserCredential.
kubeconfig() {
python3 - "$AKSID_AUTHORITY_HOST" "$AKSID_ARM_ENDPOINT" "$AKSID_CA_CERTIFICATE" "$1" <<'PY'
import base64, json, os, ssl, sys, urllib.parse, urllib.request
authority, arm, ca, cluster = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
form = urllib.parse.urlencode({
    "grant_type": "client_credentials", "client_id": os.environ["ARM_CLIENT_ID"],
    "client_secret": os.environ["ARM_CLIENT_SECRET"], "scope": "https://management.azure.com/.default",
}).encode()
token = json.load(urllib.request.urlopen(f"{authority.rstrip('/')}/{os.environ['ARM_TENANT_ID']}/oauth2/v2.0/token", form, context=ctx))["access_token"]
req = urllib.request.Request(f"{arm.rstrip('/')}{cluster}/listClusterUserCredential?api-version=2025-01-01", b"", method="POST",
                             headers={"Authorization": f"Bearer {token}"})
creds = json.load(urllib.request.urlopen(req, context=ctx))
sys.stdout.write(base64.b64decode(creds["kubeconfigs"][0]["value"]).decode())
PY
}
CLUSTER_ID=/subscriptions/9c195f54-5580-4cd2-9e24-3114522757f4/resourceGroups/rg-spoke-aks/providers/Microsoft.ContainerService/managedClusters/aks-spoke
kubeconfig "$CLUSTER_ID" > "$PODS/kubeconfig"
kubectl() { "$REPO/.tools/bin/kubectl" --kubeconfig "$PODS/kubeconfig" --cache-dir "$PODS/.kube-cache" "$@"; }
# The applications' namespaces exist before aksid writes into them, as on a real cluster.
printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n---\n' reports orders | kubectl apply --server-side -f -
"$TERRAFORM" init -no-color >/dev/null
"$TERRAFORM" apply -auto-approve -no-color 2>&1 | grep -E "Warning:|Apply complete" || true
for out in pod_labels client_ids assignments; do
  echo "$out = $("$TERRAFORM" output -no-color "$out")"
done
step "the objects in the cluster (kubectl with the kubeconfig of listClusterUserCredential)"
echo "\$ kubectl -n reports get serviceaccount reports -o yaml"
kubectl -n reports get serviceaccount reports -o yaml
echo "\$ kubectl -n orders get azureidentities,azureidentitybindings -o yaml"
kubectl -n orders get azureidentities,azureidentitybindings -o yaml
"$TERRAFORM" destroy -auto-approve -no-color | grep -E "Destroy complete"

kill "$AKSID_EMULATOR_PID"; trap - EXIT

step "examples/hub-spoke: a hub and two spoke subscriptions, one provider alias each, one module per spoke"
eval "$("$REPO/scripts/emulator-env.sh" "$REPO/examples/hub-spoke/emulator-seed.json" release)"
trap 'kill "$AKSID_EMULATOR_PID" 2>/dev/null || true' EXIT
HUBSPOKE="$REPO/target/demo-hub-spoke"
rm -rf "$HUBSPOKE" && mkdir -p "$HUBSPOKE/modules"
cp "$REPO"/examples/hub-spoke/*.tf "$REPO"/examples/hub-spoke/terraform.tfvars "$HUBSPOKE/"
cp -r "$REPO/examples/hub-spoke/modules/aks-identity" "$HUBSPOKE/modules/"
cd "$HUBSPOKE"
# The applications' namespaces, in each spoke's cluster.
for cluster in \
  /subscriptions/053360cf-e43d-4e4b-a6a6-fd86058c10be/resourceGroups/rg-spoke-a-aks/providers/Microsoft.ContainerService/managedClusters/aks-spoke-a \
  /subscriptions/59244c7c-f38c-4e4c-bf63-529f80113222/resourceGroups/rg-spoke-b-aks/providers/Microsoft.ContainerService/managedClusters/aks-spoke-b; do
  kubeconfig "$cluster" > "$HUBSPOKE/kubeconfig"
  printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n---\n' orders reports |
    "$REPO/.tools/bin/kubectl" --kubeconfig "$HUBSPOKE/kubeconfig" --cache-dir "$HUBSPOKE/.kube-cache" apply --server-side -f -
done
"$TERRAFORM" init -no-color >/dev/null
"$TERRAFORM" apply -auto-approve -no-color 2>&1 | grep -E "Warning:|Apply complete" || true
for out in pod_labels service_accounts; do
  echo "$out = $("$TERRAFORM" output -no-color "$out")"
done
set +e; "$TERRAFORM" plan -detailed-exitcode -no-color >/dev/null; code=$?; set -e
echo "terraform plan -detailed-exitcode after apply: $code"
"$TERRAFORM" destroy -auto-approve -no-color | grep -E "Destroy complete"

kill "$AKSID_EMULATOR_PID"; trap - EXIT
echo "emulator stopped"
