# SPDX-License-Identifier: MIT
"""/api checked by an OpenAPI validator other people use (@apidevtools/swagger-parser from npm,
pinned in package-lock.json): the document of an anonymous caller and of an editor, with the
OGC API Features Part 4 write operations (issue 20) in it, is valid OpenAPI 3.0."""
import json
import os
import subprocess

from conftest import ROOT, run_spp

VALIDATOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "validate_openapi.cjs")


def test_api_document_is_valid_openapi(spp, workdir):
    editor = run_spp("keys", "--db", spp.store, "add", "--role", "editor", "--name",
                     "openapi editor").stdout.split()[0]
    files = []
    for who, headers in (("anonymous", {}), ("editor", {"X-API-Key": editor})):
        st, _, body = spp.get("/api", headers=headers)
        assert st == 200, body
        doc = json.loads(body)
        # the writes are in the document to validate, not only the reads
        item = doc["paths"]["/collections/{collectionId}/items/{featureId}"]
        assert {"put", "patch", "delete"} <= set(item), who
        assert "post" in doc["paths"]["/collections/{collectionId}/items"], who
        path = os.path.join(workdir, f"api-{who}.json")
        with open(path, "wb") as f:
            f.write(body)
        files.append(path)
    p = subprocess.run(["node", VALIDATOR, *files], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.count(": valid OpenAPI 3.0.3") == 2, p.stdout
