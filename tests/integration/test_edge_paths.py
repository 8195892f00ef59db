# SPDX-License-Identifier: MIT
"""Paths that once reached undefined behaviour (found by UBSan), kept in the suite so `make asan`
(ASan + UBSan, halt on error) walks them on every run: a land-fund search with nothing to sort,
and an SLD whose rule has no filter beside an ElseFilter rule (an empty rule-memo key)."""
import json
import os
import shutil

from osgeo import gdal

from conftest import ROOT, Server

gdal.UseExceptions()

SLD = """<?xml version="1.0" encoding="UTF-8"?>
<StyledLayerDescriptor version="1.1.0" xmlns="http://www.opengis.net/sld"
  xmlns:se="http://www.opengis.net/se" xmlns:ogc="http://www.opengis.net/ogc">
 <NamedLayer><se:Name>roads</se:Name><UserStyle><se:Name>roads</se:Name>
  <se:FeatureTypeStyle>
   <se:Rule><se:Name>all</se:Name><se:LineSymbolizer><se:Stroke>
     <se:SvgParameter name="stroke">#FF0000</se:SvgParameter>
     <se:SvgParameter name="stroke-width">3</se:SvgParameter></se:Stroke></se:LineSymbolizer></se:Rule>
   <se:Rule><se:Name>else</se:Name><se:ElseFilter/><se:LineSymbolizer><se:Stroke>
     <se:SvgParameter name="stroke">#0000FF</se:SvgParameter></se:Stroke></se:LineSymbolizer></se:Rule>
  </se:FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>
"""


def test_land_fund_search_with_no_result(server):
    status, _, body = server.json("/api/v1/land-funds?kind=vacant&min_area=1e12")
    assert status == 200 and body["results"] == [] and body["numberMatched"] == 0
    status, _, body = server.get("/api/v1/land-funds?kind=investment&min_area=1e12&f=csv")
    assert status == 200 and body.decode("utf-8-sig").count("\n") == 1  # the header only


def test_rule_without_filter_beside_else_filter(store, tmp_path):
    styles = tmp_path / "styles"
    shutil.copytree(os.path.join(ROOT, "styles"), styles)
    (styles / "roads.sld").write_text(SLD, encoding="utf-8")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"styles_dir": str(styles)}))
    s = Server(store, str(tmp_path), config=str(cfg))
    try:
        status, hdrs, png = s.get(
            "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=roads&STYLES=&CRS=EPSG:5897"
            "&BBOX=585950,1109450,586450,1109950&WIDTH=200&HEIGHT=200&FORMAT=image/png"
            "&TRANSPARENT=TRUE")
    finally:
        s.stop()
    assert status == 200 and hdrs["Content-Type"] == "image/png"
    gdal.FileFromMemBuffer("/vsimem/else.png", png)
    ds = gdal.Open("/vsimem/else.png")
    red, blue, alpha = (ds.GetRasterBand(b).ReadAsArray() for b in (1, 3, 4))
    ds = None
    gdal.Unlink("/vsimem/else.png")
    drawn = alpha > 0
    # every road is drawn by the rule without a filter, in red; the ElseFilter draws nothing
    assert drawn.sum() > 200
    assert (red[drawn] > blue[drawn]).all()
