#!/usr/bin/env python3
"""Generate data/builtin-roles.json, the built-in Azure role catalog the
provider binary embeds (src/azure/roles.rs).

Source data: specs/builtin-roles/*.json in this repository, verbatim `az role
definition list` dumps from easimon/azure-builtin-roles at commit
db0b2258505032bd004bc356dd3eec87250d5b99 (azure-roles/<Role Name>.json).
The GUIDs were cross-checked against Microsoft's built-in roles doc
(MicrosoftDocs/azure-docs articles/role-based-access-control/built-in-roles.md).
See specs/README.md for provenance.

Usage (from anywhere; paths default relative to the repo root):
    python3 scripts/gen-role-catalog.py [SRC_DIR] [OUT_FILE]

Python 3 standard library only.
"""

import glob
import json
import os
import re
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SRC = os.path.join(REPO_ROOT, "specs", "builtin-roles")
DEFAULT_OUT = os.path.join(REPO_ROOT, "data", "builtin-roles.json")

GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ID_PREFIX = "/providers/microsoft.authorization/roledefinitions/"

# Output key -> key inside each permissions[] entry.
PERMISSION_KEYS = (
    ("actions", "actions"),
    ("not_actions", "notActions"),
    ("data_actions", "dataActions"),
    ("not_data_actions", "notDataActions"),
)


def union(lists):
    """Concatenate lists, dropping duplicates, keeping first-seen order."""
    seen, out = set(), []
    for items in lists:
        for item in items or []:
            if item not in seen:
                seen.add(item)
                out.append(item)
    return out


def convert(defn, source):
    name = defn["roleName"]
    guid = defn["name"].lower()
    if not GUID_RE.match(guid):
        sys.exit(f"{source}: name {defn['name']!r} is not a GUID")
    if defn.get("id", "").lower() != ID_PREFIX + guid:
        sys.exit(f"{source}: id {defn.get('id')!r} does not match GUID {guid}")
    if defn.get("roleType") != "BuiltInRole":
        sys.exit(f"{source}: roleType is {defn.get('roleType')!r}, not BuiltInRole")
    perms = defn.get("permissions") or []
    role = {"name": name, "guid": guid}
    for out_key, in_key in PERMISSION_KEYS:
        role[out_key] = union(p.get(in_key) for p in perms)
    return role


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_SRC
    out = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_OUT
    files = sorted(glob.glob(os.path.join(src, "*.json")))
    if not files:
        sys.exit(f"no role definition files in {src}")

    roles = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        # A dump is either one definition or a list of them.
        for defn in data if isinstance(data, list) else [data]:
            roles.append(convert(defn, path))

    roles.sort(key=lambda r: r["name"])
    for kind in ("name", "guid"):
        keys = [r[kind].lower() for r in roles]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            sys.exit(f"duplicate role {kind}s: {dupes}")

    # Compact, but one role per line so diffs stay readable.
    lines = [json.dumps(r, separators=(",", ":"), ensure_ascii=False) for r in roles]
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write("[\n" + ",\n".join(lines) + "\n]\n")
    print(f"wrote {len(roles)} roles to {os.path.relpath(out)}")


if __name__ == "__main__":
    main()
