#!/usr/bin/env bash
# `make demo`: the whole landing-zone story, offline. Real Terraform 1.0.3 drives the provider
# binary over gRPC + mTLS against aksid-emulator (a local ARM + Entra + Kubernetes API):
# apply examples/hub-spoke, read the access report, catch a grant deleted outside Terraform,
# repair it, migrate an application from AAD Pod Identity to Workload Identity, destroy.
# DEMO_PROFILE=debug runs it with debug builds (`cargo build --workspace`).
set -euo pipefail
REPO="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
PROFILE="${DEMO_PROFILE:-release}"
STEPS=10
n=0
step() { n=$((n + 1)); printf '\n\033[1m[%d/%d] %s\033[0m\n' "$n" "$STEPS" "$*"; }
note() { printf '        %s\n' "$*"; }

step "aksid-emulator: a local Azure with a hub and two spoke subscriptions"
eval "$("$REPO/scripts/tf-env.sh" "$PROFILE")"
eval "$("$REPO/scripts/emulator-env.sh" "$REPO/examples/hub-spoke/emulator-seed.json" "$PROFILE")"
trap 'kill "$AKSID_EMULATOR_PID" 2>/dev/null || true' EXIT
note "ARM $AKSID_ARM_ENDPOINT, Entra $AKSID_AUTHORITY_HOST (HTTPS, CA $AKSID_CA_CERTIFICATE)"
note "seed: examples/hub-spoke/emulator-seed.json; Terraform authenticates as its deployer (ARM_CLIENT_ID=$ARM_CLIENT_ID)"

WORK="$REPO/target/demo-hub-spoke"
rm -rf "$WORK" && mkdir -p "$WORK/modules"
cp "$REPO"/examples/hub-spoke/*.tf "$REPO"/examples/hub-spoke/terraform.tfvars "$WORK/"
cp -r "$REPO/examples/hub-spoke/modules/aks-identity" "$WORK/modules/"
cd "$WORK"
tf() { "$TERRAFORM" "$@" -no-color; }
admin() { # admin METHOD PATH: the emulator's admin API (request log, out-of-band changes)
  python3 - "$AKSID_EMULATOR_ADMIN" "$AKSID_CA_CERTIFICATE" "$1" "$2" <<'PY'
import ssl, sys, urllib.request
admin, ca, method, path = sys.argv[1:]
req = urllib.request.Request(admin.rstrip("/") + path, method=method)
sys.stdout.write(urllib.request.urlopen(req, context=ssl.create_default_context(cafile=ca)).read().decode())
PY
}
# kubectl gets the kubeconfig the provider itself uses: ARM's listClusterUserCredential.
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
SPOKE_A=/subscriptions/053360cf-e43d-4e4b-a6a6-fd86058c10be/resourceGroups/rg-spoke-a-aks/providers/Microsoft.ContainerService/managedClusters/aks-spoke-a
SPOKE_B=/subscriptions/59244c7c-f38c-4e4c-bf63-529f80113222/resourceGroups/rg-spoke-b-aks/providers/Microsoft.ContainerService/managedClusters/aks-spoke-b
kubeconfig "$SPOKE_A" > kubeconfig-a
kubeconfig "$SPOKE_B" > kubeconfig-b
kubectl_a() { "$REPO/.tools/bin/kubectl" --kubeconfig "$WORK/kubeconfig-a" --cache-dir "$WORK/.kube-cache" "$@"; }
# The applications' namespaces exist before aksid writes into them, as on a real cluster.
for cfg in kubeconfig-a kubeconfig-b; do
  printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n---\n' orders reports |
    "$REPO/.tools/bin/kubectl" --kubeconfig "$WORK/$cfg" --cache-dir "$WORK/.kube-cache" apply --server-side -f - >/dev/null
done
note "namespaces orders and reports exist in aks-spoke-a and aks-spoke-b"

step "terraform init: aksid/aksid installed from a local mirror, as from a registry"
tf init | grep -E "Installing|Installed" || true

step "terraform apply examples/hub-spoke: one module per spoke, one provider alias per subscription"
tf apply -auto-approve | grep -E "Warning:|Apply complete" || true
note "role assignments aksid made, per subscription:"
tf output -json assignment_ids | python3 -c '
import json, sys
for spoke, ids in json.load(sys.stdin).items():
    for key in sorted(ids):
        print(f"        {spoke}: {key}")'
note "what the pod templates need:"
tf output -json pod_labels | python3 -c '
import json, sys
for spoke, apps in json.load(sys.stdin).items():
    for app, labels in apps.items():
        print(f"        {spoke}/{app}: {labels}")'

step "data \"aksid_access_report\": who can do what because of aks-spoke-a (Markdown table + Mermaid)"
tf output -json access_report | python3 -c 'import json, sys; print(json.load(sys.stdin)["spoke_a"])'

step "drift: someone deletes the kubelet's AcrPull on the hub registry in the portal"
GRANT="$(tf output -json assignment_ids | python3 -c 'import json, sys; print(json.load(sys.stdin)["spoke_a"]["cluster/kubelet/AcrPull/acrhubcontoso"])')"
admin DELETE "/role-assignments?id=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$GRANT")" >/dev/null
note "deleted $GRANT"
set +e; tf plan -detailed-exitcode > plan.txt; code=$?; set -e
grep -E "has changed|will be updated|AcrPull|Plan:" plan.txt | head -12 || true
note "terraform plan -detailed-exitcode: $code (2 = changes: the grant is missing)"

step "terraform apply: the missing grant is written again, nothing else"
tf apply -auto-approve | grep -E "Apply complete" || true
set +e; tf plan -detailed-exitcode > plan-after.txt; code=$?; set -e
note "terraform plan -detailed-exitcode: $code (0 = Azure matches the configuration)"

migrate() { # migrate MODE: spoke A's orders-api runs in MODE
  python3 - "$1" <<'PY'
import re, sys
text = open("terraform.tfvars").read()
# The first orders-api is spoke A's.
text = re.sub(r'mode        = "[a-z_]+"', f'mode        = "{sys.argv[1]}"', text, count=1)
open("terraform.tfvars", "w").write(text)
PY
}
step "migration 1/2: orders-api (spoke A) runs on both AAD Pod Identity and Workload Identity"
migrate both
tf apply -auto-approve | grep -E "Apply complete" || true
echo "        \$ kubectl -n orders get azureidentities,azureidentitybindings,serviceaccounts"
kubectl_a -n orders get azureidentities,azureidentitybindings,serviceaccounts | sed 's/^/        /'
note "pod labels now: $(tf output -json pod_labels | python3 -c 'import json, sys; print(json.load(sys.stdin)["spoke_a"]["orders-api"])')"

step "migration 2/2: Workload Identity only; AAD Pod Identity objects and the kubelet's MIC grants go"
migrate workload_identity
tf apply -auto-approve | grep -E "Apply complete" || true
echo "        \$ kubectl -n orders get azureidentities,azureidentitybindings,serviceaccounts"
kubectl_a -n orders get azureidentities,azureidentitybindings,serviceaccounts 2>&1 | sed 's/^/        /'
echo "        \$ kubectl -n orders get serviceaccount orders-api -o jsonpath='{.metadata.annotations}'"
printf '        %s\n' "$(kubectl_a -n orders get serviceaccount orders-api -o jsonpath='{.metadata.annotations}')"

step "terraform destroy: every grant, identity and Kubernetes object aksid made is gone"
tf destroy -auto-approve | grep -E "Destroy complete" || true
admin GET /requests | python3 -c '
import json, sys
log = json.load(sys.stdin)
writes = [r for r in log if r["method"] in ("PUT", "DELETE", "PATCH")]
print(f"        the emulator served {len(log)} requests, {len(writes)} of them writes")'

step "stop the emulator"
kill "$AKSID_EMULATOR_PID"; trap - EXIT
note "done: make test runs the same story as acceptance tests (tests/hub_spoke.rs, tests/access_report.rs, tests/pod_identity.rs)"
