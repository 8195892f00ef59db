#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes the QGIS Server 3.22 project of the benchmark city (PyQGIS, headless): the layers,
data and symbols of the MapServer peer's mapfile (mapserver/city.map): parcels filled by
land_use with a 0.5 px grey outline, canals by width_m in metres (round caps and joins, at least
1 px), buildings grey with a darker 0.5 px outline, roads by class (4/3/2.5/2/1/1 px). Data: the
city's SpatiaLite file (EPSG:9210) through the OGR provider, as MapServer reads it; WMS in
EPSG:3857 (and the file's CRS and 4326), no GetFeatureInfo geometry, no tile cache.

usage: QT_QPA_PLATFORM=offscreen make_project.py CITY.sqlite OUT.qgs
"""
import sys

from qgis.core import (QgsApplication, QgsCategorizedSymbolRenderer, QgsCoordinateReferenceSystem,
                       QgsFillSymbol, QgsLineSymbol, QgsProject, QgsProperty,
                       QgsRendererCategory, QgsSingleSymbolRenderer, QgsSymbolLayer,
                       QgsVectorLayer)

LAND_USE = [("ODT", "255,160,255"), ("ONT", "255,208,255"), ("TMD", "250,128,128"),
            ("SKC", "250,170,160"), ("DGT", "250,200,120"), ("CLN", "255,210,160"),
            ("LUC", "255,255,100"), ("NTS", "170,255,255"), ("DGD", "255,160,170"),
            ("DYT", "255,140,150"), ("SON", "160,255,255"), ("BCS", "255,255,254")]
ROADS = [("primary", "240,150,60", 4), ("secondary", "245,200,90", 3),
         ("tertiary", "255,255,255", 2.5), ("residential", "255,255,255", 2),
         ("service", "255,255,255", 1), ("track", "200,170,120", 1)]

def fill(rgb, outline, width=0.5):
    return QgsFillSymbol.createSimple({"color": rgb, "outline_color": outline,
                                       "outline_width": str(width), "outline_width_unit": "Pixel"})


def line(rgb, width):
    return QgsLineSymbol.createSimple({"line_color": rgb, "line_width": str(width),
                                    "line_width_unit": "Pixel", "capstyle": "round",
                                    "joinstyle": "round"})  # MapServer's AGG default


def main():
    db, out = sys.argv[1], sys.argv[2]
    app = QgsApplication([], False)
    app.initQgis()
    prj = QgsProject.instance()
    prj.setCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    layers = {}
    for name in ("parcels", "canals", "buildings", "roads"):
        lyr = QgsVectorLayer(f"{db}|layername={name}", name, "ogr")
        if not lyr.isValid():
            sys.exit(f"make_project.py: cannot open layer {name} of {db}")
        layers[name] = lyr
    cats = [QgsRendererCategory(code, fill(rgb, "120,120,120"), code) for code, rgb in LAND_USE]
    layers["parcels"].setRenderer(QgsCategorizedSymbolRenderer("land_use", cats))
    canal = QgsLineSymbol.createSimple({"line_color": "90,160,230", "capstyle": "round",
                                        "joinstyle": "round", "line_width_unit": "Pixel"})
    # width_m metres -> pixels at the map's scale, at least 1 px (MapServer: SIZEUNITS METERS,
    # MINWIDTH 1)
    canal.symbolLayer(0).setDataDefinedProperty(
        QgsSymbolLayer.PropertyStrokeWidth,
        QgsProperty.fromExpression('max(1, "width_m" / (@map_extent_width / @map_width))'))
    layers["canals"].setRenderer(QgsSingleSymbolRenderer(canal))
    layers["buildings"].setRenderer(QgsSingleSymbolRenderer(fill("160,160,160", "90,90,90")))
    rcats = [QgsRendererCategory(c, line(rgb, w), c) for c, rgb, w in ROADS]
    layers["roads"].setRenderer(QgsCategorizedSymbolRenderer("class", rcats))
    for name in ("parcels", "canals", "buildings", "roads"):
        prj.addMapLayer(layers[name])
    prj.writeEntry("WMSCrsList", "/", ["EPSG:3857", "EPSG:9210", "EPSG:4326"])
    prj.writeEntry("WMSServiceCapabilities", "/", True)
    prj.writeEntry("WMSServiceTitle", "/", "Can Tho synthetic city (benchmark peer)")
    prj.writeEntry("WMSAddWktGeometry", "/", False)
    prj.writeEntry("WMSImageQuality", "/", 85)
    if not prj.write(out):
        sys.exit(f"make_project.py: cannot write {out}")
    app.exitQgis()


if __name__ == "__main__":
    main()
