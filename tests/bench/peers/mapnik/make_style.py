#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes the Mapnik XML style of the benchmark city: the same layers, data and symbols as the
MapServer peer's mapfile (mapserver/city.map): parcels filled by land_use with a 0.5 px grey
outline, canals by width_m in metres (at least 1 px, round caps and joins), buildings grey with a
darker 0.5 px outline, roads by class (4/3/2.5/2/1/1 px). Data: the city's SpatiaLite file
(EPSG:9210) through Mapnik's sqlite input with its R*Tree, drawn in EPSG:3857.

usage: make_style.py CITY.sqlite OUT.xml
Canal widths in metres become one rule per zoom level 10..20 (Mapnik strokes are in pixels):
width_m / (metres per pixel at that zoom), as MapServer's SIZEUNITS METERS does per request.
"""
import sys
from xml.sax.saxutils import quoteattr

LAND_USE = [("ODT", "255,160,255"), ("ONT", "255,208,255"), ("TMD", "250,128,128"),
            ("SKC", "250,170,160"), ("DGT", "250,200,120"), ("CLN", "255,210,160"),
            ("LUC", "255,255,100"), ("NTS", "170,255,255"), ("DGD", "255,160,170"),
            ("DYT", "255,140,150"), ("SON", "160,255,255"), ("BCS", "255,255,254")]
ROADS = [("primary", "240,150,60", 4), ("secondary", "245,200,90", 3),
         ("tertiary", "255,255,255", 2.5), ("residential", "255,255,255", 2),
         ("service", "255,255,255", 1), ("track", "200,170,120", 1)]
HALF = 20037508.342789244


def scale_of(z):  # OGC scale denominator of zoom z (0.28 mm pixels)
    return 2 * HALF / 256 / 2 ** z / 0.00028


def layer(name, table, style, db):
    return f"""  <Layer name="{name}" srs="epsg:9210">
    <StyleName>{style}</StyleName>
    <Datasource>
      <Parameter name="type">sqlite</Parameter>
      <Parameter name="file">{db}</Parameter>
      <Parameter name="table">{table}</Parameter>
      <Parameter name="geometry_field">geom</Parameter>
      <Parameter name="wkb_format">spatialite</Parameter>
      <Parameter name="use_spatial_index">true</Parameter>
    </Datasource>
  </Layer>
"""


def main():
    db, out = sys.argv[1], sys.argv[2]
    x = ['<?xml version="1.0" encoding="utf-8"?>',
         '<Map srs="epsg:3857" background-color="rgb(246,244,238)">']
    x.append('  <Style name="parcels">')
    for code, rgb in LAND_USE:
        x.append(f'    <Rule><Filter>[land_use] = \'{code}\'</Filter>'
                 f'<PolygonSymbolizer fill="rgb({rgb})"/>'
                 f'<LineSymbolizer stroke="rgb(120,120,120)" stroke-width="0.5"/></Rule>')
    x.append('  </Style>')
    x.append('  <Style name="canals">')
    for z in range(10, 21):
        lo, hi = scale_of(z) / 2 ** 0.5, scale_of(z) * 2 ** 0.5
        mpp = 2 * HALF / 256 / 2 ** z
        expr = quoteattr(f"max(1.0, [width_m] / {mpp:.6f})")
        x.append(f'    <Rule><MinScaleDenominator>{lo:.1f}</MinScaleDenominator>'
                 f'<MaxScaleDenominator>{hi:.1f}</MaxScaleDenominator>'
                 f'<LineSymbolizer stroke="rgb(90,160,230)" stroke-width={expr} '
                 f'stroke-linecap="round" stroke-linejoin="round"/></Rule>')
    x.append('  </Style>')
    x.append('  <Style name="buildings"><Rule><PolygonSymbolizer fill="rgb(160,160,160)"/>'
             '<LineSymbolizer stroke="rgb(90,90,90)" stroke-width="0.5"/></Rule></Style>')
    x.append('  <Style name="roads">')
    for cls, rgb, w in ROADS:
        x.append(f'    <Rule><Filter>[class] = \'{cls}\'</Filter>'
                 f'<LineSymbolizer stroke="rgb({rgb})" stroke-width="{w}"/></Rule>')
    x.append('  </Style>')
    for name, style in (("parcels", "parcels"), ("canals", "canals"), ("buildings", "buildings"),
                        ("roads", "roads")):
        x.append(layer(name, name, style, db))
    x.append('</Map>')
    open(out, "w", encoding="utf-8").write("\n".join(x) + "\n")


if __name__ == "__main__":
    main()
