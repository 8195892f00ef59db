# SPDX-License-Identifier: MIT
"""Issue 20 review: edge cases of WFS-T and WFS locking found in review, each failing before its
fix. One Transaction whose two Delete actions select the same feature (the filters see the store
as it was before the Transaction) deletes it once: one change-log entry, the layer's feature count
down by one, and the change reverts cleanly. A WFS 1.1 EXPIRY in minutes so large that it
overflows when counted in seconds is refused, not wrapped round into a short lock."""
import os
import re
import sqlite3

import pytest

from conftest import Server, run_spp
from test_wfs_lock import LAYER, SPP_NS, exception_code, kvp, new_blocks, tx


@pytest.fixture(scope="module")
def review_server(workdir):
    db = os.path.join(workdir, "editreview.sqlite")
    for suffix in ("", "-wal", "-shm", ".tiles"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    run_spp("init", "--db", db)
    s = Server(db, workdir)
    s.db = db
    s.keys = {}
    for name, role in (("a", "editor"), ("b", "editor")):
        s.keys[name] = run_spp("keys", "--db", db, "add", "--role", role, "--name",
                               f"review {name}").stdout.split()[0]
    s.next_x = 590000
    yield s
    s.stop()


def delete(fid):
    return (f'<Delete typeName="spp:{LAYER}" xmlns:spp="{SPP_NS}"><fes:Filter><fes:ResourceId '
            f'rid="{LAYER}.{fid}"/></fes:Filter></Delete>')


def n_features(db):
    with sqlite3.connect(db) as c:
        return c.execute("SELECT n_features FROM spp_layers WHERE layer = ?", (LAYER,)).fetchone()[0]


def count(db):
    with sqlite3.connect(db) as c:
        return c.execute(f"SELECT count(*) FROM {LAYER}").fetchone()[0]


def test_two_deletes_of_one_feature_in_one_transaction(review_server):
    s = review_server
    f1, f2 = new_blocks(s, 2, "DD")
    n0, c0 = n_features(s.db), count(s.db)
    assert n0 == c0
    st, _, b = tx(s, delete(f1) + delete(f1) + delete(f2))
    assert st == 200, b
    assert b"<wfs:totalDeleted>2</wfs:totalDeleted>" in b, b
    assert count(s.db) == c0 - 2
    assert n_features(s.db) == count(s.db), "the layer's feature count went wrong"
    out = run_spp("history", "--db", s.db, LAYER, str(f1)).stdout
    assert len(re.findall(r"\bdelete\b", out)) == 1, out
    change = int(re.search(r"change (\d+)[^\n]*delete", out).group(1))
    run_spp("revert", "--db", s.db, "--name", "review", str(change))
    assert count(s.db) == c0 - 1 and n_features(s.db) == c0 - 1
    with sqlite3.connect(s.db) as c:
        assert c.execute(f"SELECT block_code FROM {LAYER} WHERE fid = ?",
                         (f1,)).fetchone()[0] == "DD-0"


def test_expiry_in_minutes_that_overflows_is_refused(review_server):
    s = review_server
    (f,) = new_blocks(s, 1, "EX")
    # 307445734561825861 minutes * 60 wraps round 2^64 to 44 seconds
    for expiry in ("307445734561825861", "9223372036854775807", "1441"):
        st, _, b = kvp(s, {"version": "1.1.0", "request": "LockFeature",
                           "typeName": f"spp:{LAYER}", "featureId": f"{LAYER}.{f}",
                           "expiry": expiry})
        assert st == 400, (expiry, b)
        assert exception_code(b) == "InvalidParameterValue", b
    # nothing was locked: another editor writes the feature
    st, _, b = tx(s, delete(f), key="b")
    assert st == 200, b
