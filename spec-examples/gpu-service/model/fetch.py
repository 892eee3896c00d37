"""Download a Hugging Face model repository's files at one revision into a directory.

usage: fetch.py REPO REVISION DEST

Reads a token from /run/secrets/hf-token when that file exists (a BuildKit secret, for
gated models); the token is sent in a header, never written anywhere.
"""

import json
import os
import sys
import urllib.request

repo, revision, dest = sys.argv[1:4]
headers = {}
token_file = "/run/secrets/hf-token"
if os.path.exists(token_file):
    headers["Authorization"] = "Bearer " + open(token_file).read().strip()


def get(url: str) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as r:
        return r.read()


info = json.loads(get(f"https://huggingface.co/api/models/{repo}/revision/{revision}"))
os.makedirs(dest, exist_ok=True)
for f in info["siblings"]:
    name = f["rfilename"]
    if name.startswith(".") or "/" in name:
        continue
    data = get(f"https://huggingface.co/{repo}/resolve/{revision}/{name}")
    with open(os.path.join(dest, name), "wb") as out:
        out.write(data)
    print(f"{name}: {len(data)} bytes")
