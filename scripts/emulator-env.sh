#!/usr/bin/env bash
# Start aksid-emulator in the background with a seed and print the environment that points
# the provider at it:   eval "$(scripts/emulator-env.sh [SEED] [PROFILE])"
# Stop it with:         kill "$AKSID_EMULATOR_PID"
set -euo pipefail
REPO="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
SEED="${1:-$REPO/emulator/examples/seed.json}"
PROFILE="${2:-release}"
BIN="$REPO/target/$PROFILE/aksid-emulator"
[ -x "$BIN" ] || { echo "build first: cargo build --$PROFILE -p aksid-emulator" >&2; exit 1; }
DIR="$(mktemp -d)"
"$BIN" serve --addr 127.0.0.1:0 --seed "$SEED" --ca-dir "$DIR" > "$DIR/ready.json" 2> "$DIR/emulator.log" &
PID=$!
for _ in $(seq 1 100); do [ -s "$DIR/ready.json" ] && break; sleep 0.05; done
[ -s "$DIR/ready.json" ] || { echo "aksid-emulator did not start; see $DIR/emulator.log" >&2; exit 1; }
python3 - "$DIR/ready.json" "$SEED" "$PID" <<'PY'
import json, sys
ready = json.load(open(sys.argv[1]))
seed = json.load(open(sys.argv[2]))
sp = seed["service_principals"][0]
print(f"export AKSID_EMULATOR_PID={sys.argv[3]} AKSID_EMULATOR_ADMIN='{ready['admin']}'")
print(f"export AKSID_ARM_ENDPOINT='{ready['arm_endpoint']}' AKSID_AUTHORITY_HOST='{ready['authority_host']}' AKSID_CA_CERTIFICATE='{ready['ca_certificate']}'")
print(f"export ARM_TENANT_ID='{ready['tenant_id']}' ARM_CLIENT_ID='{sp['client_id']}' ARM_CLIENT_SECRET='{sp['secrets'][0]}'")
PY
