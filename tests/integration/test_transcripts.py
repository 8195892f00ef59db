# SPDX-License-Identifier: MIT
"""Transcript tests: one file per protocol feature under tests/transcripts/, each a request and
the answer spp gave when it was recorded (status, the headers clients act on, the body; binary
bodies as their length and SHA-256). Every run sends each request again and diffs the answer, so
any change in what a client receives shows up as a failing transcript.

After an intended change, re-record and read the diff before committing:
    make transcripts-record        (SPP_RECORD=1 on this file)

File format (UTF-8):
    # what the transcript shows (free text)
    # store: features | query       (the fixture the request runs against)
    GET /path?query                  (or POST /path, then headers, a blank line and the body)
    Header: value                    ({planner} stands for a planner key)
    === response
    STATUS
    Header: value
    <blank line>
    body (text, normalised), or "binary LENGTH sha256:HEX"

Normalised before comparing: volatile timestamps (WFS timeStamp, "timeStamp" in JSON, dates of
today), nothing else; links are stable because the servers run with public_url
http://spp.test."""
import hashlib
import json
import os
import re

import pytest

from conftest import ROOT, Server, run_spp

DIR = os.path.join(ROOT, "tests", "transcripts")
RECORD = os.environ.get("SPP_RECORD") == "1"
HEADERS = ["Content-Type", "Content-Crs", "Content-Language", "Vary", "Allow", "Location",
           "WWW-Authenticate", "Retry-After"]
FILES = sorted(f for f in os.listdir(DIR) if f.endswith(".txt"))


@pytest.fixture(scope="module")
def servers(features_store, workdir):
    import query_fixture
    qpath = os.path.join(workdir, "transcripts_query.sqlite")
    if os.path.exists(qpath):
        os.remove(qpath)
    query_fixture.build(qpath)
    cfg = os.path.join(workdir, "transcripts.json")
    with open(cfg, "w") as f:
        json.dump({"public_url": "http://spp.test"}, f)
    out = {}
    keys = {}
    for name, path in (("features", features_store), ("query", qpath)):
        keys[name] = run_spp("keys", "--db", path, "add", "--role", "planner",
                             "--name", "transcripts").stdout.strip().splitlines()[0]
        out[name] = Server(path, workdir, config=cfg)
    yield out, keys
    for s in out.values():
        s.stop()


def parse(text):
    req, _, resp = text.partition("\n=== response\n")
    lines = req.split("\n")
    comments = [ln for ln in lines if ln.startswith("#")]
    lines = [ln for ln in lines if not ln.startswith("#")]
    store = "features"
    for c in comments:
        m = re.match(r"#\s*store:\s*(\w+)", c)
        if m:
            store = m.group(1)
    method, path = lines[0].split(" ", 1)
    headers, body, i = {}, None, 1
    while i < len(lines) and lines[i]:
        k, v = lines[i].split(":", 1)
        headers[k.strip()] = v.strip()
        i += 1
    if method == "POST":
        body = "\n".join(lines[i + 1:]).rstrip("\n")
    return comments, store, method, path, headers, body, resp


def normalise(body):
    body = re.sub(r'timeStamp="[^"]*"', 'timeStamp="*"', body)
    body = re.sub(r'"timeStamp"\s*:\s*"[^"]*"', '"timeStamp":"*"', body)
    return body


def answer(status, hdrs, body):
    out = [str(status)]
    for h in HEADERS:
        if hdrs.get(h) is not None:
            out.append(f"{h}: {hdrs.get(h)}")
    ctype = hdrs.get("Content-Type") or ""
    textual = ctype.startswith("text/") or "json" in ctype or "xml" in ctype or not body
    if textual:
        try:
            text = normalise(body.decode("utf-8"))
        except UnicodeDecodeError:
            textual = False
    if not textual:
        text = f"binary {len(body)} sha256:{hashlib.sha256(body).hexdigest()}"
    return "\n".join(out) + "\n\n" + text.rstrip("\n") + "\n"


def test_enough_transcripts():
    assert len(FILES) >= 40


@pytest.mark.parametrize("name", FILES)
def test_transcript(servers, name):
    srv, keys = servers
    path = os.path.join(DIR, name)
    with open(path, encoding="utf-8", newline="") as f:  # CSV answers keep their CRLF
        text = f.read()
    comments, store, method, target, headers, body, want = parse(text)
    headers = {k: v.replace("{planner}", keys[store]) for k, v in headers.items()}
    status, hdrs, got = srv[store].get(target, headers=headers, method=method,
                                       data=body.encode("utf-8") if body is not None else None)
    have = answer(status, hdrs, got)
    if RECORD:
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text.partition("\n=== response\n")[0] + "\n=== response\n" + have)
        return
    assert status < 500, f"{name}: {status}"
    assert have == want, f"{name} differs from its transcript (make transcripts-record after an " \
                         f"intended change, then read the diff)"
