# SPDX-License-Identifier: MIT
"""Issue 20, "invalid geometry refused" through a real client: QGIS 3.22 commits, over WFS-T
(1.1.0 and 2.0.0), an edit session of a good feature and a bad one (a polygon whose ring has no
area, or a land-use code outside the code list); spp refuses the Transaction with an OWS
exception naming the field, QGIS reports the commit as failed, and nothing of it (the good
feature neither) is in the layer afterwards."""
import pytest

pytest.importorskip("qgis.core", reason="python3-qgis is not installed")

from qgis.core import QgsApplication, QgsFeature, QgsGeometry  # noqa: E402

from test_qgis_edit import edit_spp, qgs, square, wfs_layer, wfs_rows  # noqa: E402,F401


@pytest.mark.parametrize("version", ["1.1.0", "2.0.0"])
@pytest.mark.parametrize("bad", ["flat", "code"])
def test_qgis_commit_with_an_invalid_feature_is_refused(qgs, edit_spp, version, bad):
    s = edit_spp
    x0 = 600000 + (0 if version == "1.1.0" else 1000) + (0 if bad == "flat" else 500)
    before = wfs_rows(s)
    lyr = wfs_layer(s, version, s.editor)
    assert lyr.startEditing()
    good = QgsFeature(lyr.fields())
    good.setAttribute("lu_code", "ODT")
    good.setAttribute("inventory_year", 2031)
    good.setGeometry(square(x0, 1109600))
    wrong = QgsFeature(lyr.fields())
    wrong.setAttribute("inventory_year", 2031)
    if bad == "flat":  # three points on one line: no area left after make-valid
        wrong.setAttribute("lu_code", "ODT")
        wrong.setGeometry(QgsGeometry.fromWkt(
            f"MULTIPOLYGON((({x0 + 200} 1109600,{x0 + 300} 1109600,{x0 + 400} 1109600,"
            f"{x0 + 200} 1109600)))"))
    else:
        wrong.setAttribute("lu_code", "XYZ")
        wrong.setGeometry(square(x0 + 200, 1109600))
    assert lyr.addFeatures([good, wrong])
    log = []  # the OWS exception as QGIS logged it (commitErrors only counts the features)

    def got(message, tag, level):
        log.append(message)

    QgsApplication.messageLog().messageReceived.connect(got)
    try:
        assert not lyr.commitChanges()
    finally:
        QgsApplication.messageLog().messageReceived.disconnect(got)
    errors = " ".join(log)
    assert "InvalidParameterValue" in errors, errors
    assert ("field geometry" if bad == "flat" else "field lu_code") in errors, errors
    lyr.rollBack()
    after = wfs_rows(s)
    assert after.keys() == before.keys()
    assert not [f for f in after.values() if f["properties"]["inventory_year"] == 2031]
