#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ from the test vectors in ../spec/vectors.

Run from anywhere; it writes one file per seed and never deletes anything.
The corpus directory is not committed (see .gitignore).
"""
import base64
import hashlib
import json
import pathlib

FUZZ = pathlib.Path(__file__).resolve().parent
VECTORS = FUZZ.parent / "spec" / "vectors"


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = FUZZ / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha256(data).hexdigest()[:16]).write_bytes(data)


def strings(node):
    """Every string anywhere in a JSON document."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


for path in sorted(VECTORS.rglob("*.json")):
    for s in strings(json.loads(path.read_text())):
        if "\n\u2014 " in s:
            put("note", s)
            put("policy_checkpoint", s)
            put("checkpoint", s.split("\n\n")[0] + "\n")
        if s.count("+") >= 2 and "\n" not in s and len(s) < 4096:
            put("vkey", s)
        if s.startswith("c2sp.org/tlog-proof@v1"):
            put("tlog_proof", s)
        if "quorum" in s:
            put("policy", s)
for path in sorted((VECTORS / "proof").glob("*.tlog-proof")):
    put("tlog_proof", path.read_bytes())
    note = path.read_bytes().split(b"\n\n", 1)[1]
    put("note", note)
    put("policy_checkpoint", note)
    put("checkpoint", note.split(b"\n\n")[0] + b"\n")
put("policy", (VECTORS / "policy" / "tlog-policy-example.txt").read_bytes())
for s in strings(json.loads((VECTORS / "tiles" / "tile-paths.json").read_text())):
    if s.startswith("tile/"):
        put("tile_path", s)
tiled = json.loads((VECTORS / "tiles" / "synthetic-tiled-log-1000.json").read_text())
for b in tiled["entry_bundles"]:
    put("entry_bundle", b["count"].to_bytes(2, "big") + base64.b64decode(b["body_b64"]))
mini = tiled["bundle_encoding_mini_example"]
put("entry_bundle", len(mini["entries_hex"]).to_bytes(2, "big") + bytes.fromhex(mini["bundle_hex"]))
for path in sorted((VECTORS / "witness").glob("*.json")):
    for s in strings(json.loads(path.read_text())):
        if s.startswith("old "):
            put("witness_request", s)
        if s.startswith("\u2014 ") or (s.endswith("\n") and s[:-1].isdigit()):
            put("witness_response", s)
for path in sorted((FUZZ.parent / "spec" / "examples").glob("*.json")):
    doc = json.loads(path.read_text())
    if "envelope" in doc:
        put("dsse", json.dumps(doc["envelope"]))
        put("claim", json.dumps(doc["statement"]))
    elif "_type" in doc:
        put("claim", path.read_bytes())
for d in sorted((FUZZ / "corpus").iterdir()):
    print(d.name, len(list(d.iterdir())))
