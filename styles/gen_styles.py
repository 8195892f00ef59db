#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Generates styles/<layer>.sld (SE 1.1, the subset a QGIS export uses) for the 24 catalog layers.

Colours come from the code lists (layers/codelists/*.json): land-use layers get one rule per code in
the Circular 27/2018 / 08/2024 colours (DOMAIN.md 3.1), zoning and lots one rule per function,
roads are cased by class, red lines dashed, land funds stand out. The output is committed; the
server reads the .sld files, never this script. Run: /usr/bin/python3 styles/gen_styles.py"""
import json
import os
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
LAYERS = os.path.join(os.path.dirname(HERE), "layers")

# Standard scale of a WebMercatorQuad zoom level at 256 px tiles (0.28 mm pixels).
def zscale(z):
    return round(559082264.028717 / (2 ** z))


def codelist(name):
    with open(os.path.join(LAYERS, "codelists", name + ".json"), encoding="utf-8") as f:
        return json.load(f)


def codes(name, scheme=None):
    """Distinct codes in list order (newest scheme's name and colour win for land use)."""
    out = {}
    for c in codelist(name)["codes"]:
        if scheme and c.get("scheme") and c["scheme"] != scheme and c["code"] in out:
            continue
        out[c["code"]] = c
    return list(out.values())


def layer(lid):
    with open(os.path.join(LAYERS, lid + ".json"), encoding="utf-8") as f:
        return json.load(f)


def darker(hexcol, k=0.6):
    h = hexcol.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return "#%02X%02X%02X" % (int(r * k), int(g * k), int(b * k))


def p(name, value):
    return f'<se:SvgParameter name="{name}">{escape(str(value))}</se:SvgParameter>'


def stroke(color, width, opacity=None, dash=None, cap=None, join=None):
    s = [p("stroke", color), p("stroke-width", width)]
    if opacity is not None:
        s.append(p("stroke-opacity", opacity))
    if dash:
        s.append(p("stroke-dasharray", dash))
    if cap:
        s.append(p("stroke-linecap", cap))
    if join:
        s.append(p("stroke-linejoin", join))
    return "<se:Stroke>" + "".join(s) + "</se:Stroke>"


def fill(color, opacity=None):
    s = [p("fill", color)]
    if opacity is not None:
        s.append(p("fill-opacity", opacity))
    return "<se:Fill>" + "".join(s) + "</se:Fill>"


def hatch_fill(shape, color, width=1, size=8):
    return ("<se:Fill><se:GraphicFill><se:Graphic><se:Mark>"
            f"<se:WellKnownName>{shape}</se:WellKnownName>{stroke(color, width)}"
            f"</se:Mark><se:Size>{size}</se:Size></se:Graphic></se:GraphicFill></se:Fill>")


def polygon(fill_xml=None, stroke_xml=None):
    return "<se:PolygonSymbolizer>" + (fill_xml or "") + (stroke_xml or "") + "</se:PolygonSymbolizer>"


def line(stroke_xml, offset=None):
    off = f"<se:PerpendicularOffset>{offset}</se:PerpendicularOffset>" if offset else ""
    return "<se:LineSymbolizer>" + stroke_xml + off + "</se:LineSymbolizer>"


def point(mark, size, fill_color, stroke_color="#333333", stroke_width=1, rotation=None):
    rot = f"<se:Rotation>{rotation}</se:Rotation>" if rotation is not None else ""
    return ("<se:PointSymbolizer><se:Graphic><se:Mark>"
            f"<se:WellKnownName>{mark}</se:WellKnownName>{fill(fill_color)}"
            f"{stroke(stroke_color, stroke_width)}</se:Mark><se:Size>{size}</se:Size>{rot}"
            "</se:Graphic></se:PointSymbolizer>")


def text(prop, size=11, color="#222222", halo="#FFFFFF", halo_r=1.5, placement="point",
         weight="normal", style="normal", dy=0, priority=None):
    if placement == "line":
        pl = "<se:LinePlacement><se:GeneralizeLine>true</se:GeneralizeLine></se:LinePlacement>"
    else:
        disp = (f"<se:Displacement><se:DisplacementX>0</se:DisplacementX>"
                f"<se:DisplacementY>{dy}</se:DisplacementY></se:Displacement>" if dy else "")
        pl = ("<se:PointPlacement><se:AnchorPoint><se:AnchorPointX>0.5</se:AnchorPointX>"
              f"<se:AnchorPointY>0.5</se:AnchorPointY></se:AnchorPoint>{disp}</se:PointPlacement>")
    pr = f"<se:Priority><ogc:PropertyName>{priority}</ogc:PropertyName></se:Priority>" if priority else ""
    return ("<se:TextSymbolizer>"
            f"<se:Label><ogc:PropertyName>{prop}</ogc:PropertyName></se:Label>"
            "<se:Font>" + p("font-family", "DejaVu Sans") + p("font-size", size) +
            p("font-style", style) + p("font-weight", weight) + "</se:Font>"
            f"<se:LabelPlacement>{pl}</se:LabelPlacement>"
            f"<se:Halo><se:Radius>{halo_r}</se:Radius>{fill(halo)}</se:Halo>"
            f"{fill(color)}{pr}</se:TextSymbolizer>")


def eq(prop, value):
    return (f"<ogc:PropertyIsEqualTo><ogc:PropertyName>{prop}</ogc:PropertyName>"
            f"<ogc:Literal>{escape(str(value))}</ogc:Literal></ogc:PropertyIsEqualTo>")


def like(prop, pattern):
    return (f'<ogc:PropertyIsLike wildCard="*" singleChar="." escape="!">'
            f"<ogc:PropertyName>{prop}</ogc:PropertyName><ogc:Literal>{escape(pattern)}</ogc:Literal>"
            "</ogc:PropertyIsLike>")


def rule(name, title, symbolizers, flt=None, else_filter=False, min_scale=None, max_scale=None):
    out = [f"<se:Rule><se:Name>{escape(name)}</se:Name>"
           f"<se:Description><se:Title>{escape(title)}</se:Title></se:Description>"]
    if flt:
        out.append(f"<ogc:Filter>{flt}</ogc:Filter>")
    if else_filter:
        out.append("<se:ElseFilter/>")
    if min_scale:
        out.append(f"<se:MinScaleDenominator>{min_scale}</se:MinScaleDenominator>")
    if max_scale:
        out.append(f"<se:MaxScaleDenominator>{max_scale}</se:MaxScaleDenominator>")
    out.extend(symbolizers)
    out.append("</se:Rule>")
    return "".join(out)


def fts(rules):
    return "<se:FeatureTypeStyle>" + "".join(rules) + "</se:FeatureTypeStyle>"


def document(lid, feature_type_styles):
    lay = layer(lid)
    t = lay["title"]
    body = "\n".join(feature_type_styles).replace("<se:Rule>", "\n    <se:Rule>")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by styles/gen_styles.py from layers/ and layers/codelists/: edit the script. -->
<StyledLayerDescriptor version="1.1.0" xmlns="http://www.opengis.net/sld"
  xmlns:se="http://www.opengis.net/se" xmlns:ogc="http://www.opengis.net/ogc"
  xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.opengis.net/sld http://schemas.opengis.net/sld/1.1.0/StyledLayerDescriptor.xsd">
 <NamedLayer>
  <se:Name>{lid}</se:Name>
  <UserStyle>
   <se:Name>{lay.get("style", lid)}</se:Name>
   <se:Description><se:Title>{escape(t["vi"])}</se:Title><se:Abstract>{escape(t["en"])}</se:Abstract></se:Description>
   {body}
  </UserStyle>
 </NamedLayer>
</StyledLayerDescriptor>
"""


def minscale_of(lid):
    """The layer's visibility limit: a little beyond its catalog minimum zoom."""
    return zscale(layer(lid)["zoom"]["min"]) * 3 // 2


def by_code(lid, prop, listname, outline, width=0.5, opacity=None, multi=False, scheme="TT08_2024",
            label=None, label_scale=None, hatch=None):
    """One rule per code of a code list, filled in the list's colour, plus an ElseFilter."""
    ms = minscale_of(lid)
    rules = []
    for c in codes(listname, scheme):
        col = c.get("color") or "#DDDDDD"
        flt = eq(prop, c["code"])
        if multi:  # "ODT+CLN": the first code decides the colour
            flt = f"<ogc:Or>{flt}{like(prop, c['code'] + '+*')}</ogc:Or>"
        sym = [polygon(fill(col, opacity), stroke(outline or darker(col), width))]
        if hatch and c["code"] in hatch:
            sym.append(polygon(hatch_fill(hatch[c["code"]], darker(col, 0.5), 0.8, 8)))
        rules.append(rule(c["code"], c["name"]["vi"], sym, flt, max_scale=ms))
    rules.append(rule("khac", "Khác / chưa phân loại",
                      [polygon(fill("#EEEEEE", opacity), stroke(outline or "#999999", width))],
                      else_filter=True, max_scale=ms))
    out = [fts(rules)]
    if label:
        out.append(fts([rule("nhan", "Nhãn", [text(label, 10)], max_scale=label_scale)]))
    return out


def land_use(lid, prop, multi=False):
    # LMU is white with a hatch on TT27 maps; defence / security get a cross-hatch.
    hatch = {"LMU": "shape://slash", "CQP": "shape://times", "CAN": "shape://times"}
    outline = "#6E6E6E" if lid == "cadastral_parcels" else None
    label = layer(lid).get("label")
    return by_code(lid, prop, "land_use", outline, 0.6, None, multi, label=label,
                   label_scale=zscale(17) * 5 // 4 if lid == "cadastral_parcels" else zscale(16),
                   hatch=hatch)


def zoning(lid, prop, label, label_scale):
    return by_code(lid, prop, "zoning_function", "#5A5A5A", 0.8, 0.85, label=label,
                   label_scale=label_scale)


def roads():
    ms = minscale_of("roads")
    cls = codes("road_class")
    widths = {"cao_toc": 9, "quoc_lo": 8, "tinh_lo": 7, "do_thi_chinh": 7, "khu_vuc": 5.5,
              "noi_bo": 4, "hem": 2.5}
    casing, inner = [], []
    for c in cls:
        w = widths.get(c["code"], 3)
        col = c.get("color") or "#FFFFFF"
        # Small roads only when zoomed in; main roads from the layer's minimum zoom.
        m = zscale(15) * 3 // 2 if c["code"] in ("hem", "noi_bo") else ms
        casing.append(rule(c["code"] + "_vien", c["name"]["vi"],
                           [line(stroke("#7A6A55" if c["code"] != "cao_toc" else "#8B1010", w + 2,
                                        cap="round", join="round"))],
                           eq("road_class", c["code"]), max_scale=m))
        inner.append(rule(c["code"], c["name"]["vi"],
                          [line(stroke(col, w, cap="round", join="round"))],
                          eq("road_class", c["code"]), max_scale=m))
    casing.append(rule("khac_vien", "Đường khác", [line(stroke("#7A6A55", 4, cap="round"))],
                       else_filter=True, max_scale=zscale(15)))
    inner.append(rule("khac", "Đường khác", [line(stroke("#FFFFFF", 2, cap="round"))],
                      else_filter=True, max_scale=zscale(15)))
    labels = [rule("ten_duong", "Tên đường", [text("name", 11, "#333333", placement="line")],
                   max_scale=zscale(15) * 3 // 2)]
    return [fts(casing), fts(inner), fts(labels)]


def lines_by_code(lid, prop, listname, width, dash=None, label=None, dashes=None, widths=None):
    ms = minscale_of(lid)
    rules = []
    for c in codes(listname):
        d = (dashes or {}).get(c["code"], dash)
        w = (widths or {}).get(c["code"], width)
        rules.append(rule(c["code"], c["name"]["vi"],
                          [line(stroke(c.get("color") or "#555555", w, dash=d))],
                          eq(prop, c["code"]), max_scale=ms))
    rules.append(rule("khac", "Khác", [line(stroke("#777777", width, dash=dash))],
                      else_filter=True, max_scale=ms))
    out = [fts(rules)]
    if label:
        out.append(fts([rule("nhan", "Nhãn", [text(label, 10, "#333333", placement="line")],
                             max_scale=zscale(16))]))
    return out


def points_by_code(lid, prop, listname, mark, size, label=None, label_scale=None, default="#555555"):
    ms = minscale_of(lid)
    rules = []
    for c in codes(listname):
        rules.append(rule(c["code"], c["name"]["vi"],
                          [point(mark, size, c.get("color") or default, "#FFFFFF", 1.2)],
                          eq(prop, c["code"]), max_scale=ms))
    rules.append(rule("khac", "Khác", [point(mark, size, default, "#FFFFFF", 1.2)],
                      else_filter=True, max_scale=ms))
    out = [fts(rules)]
    if label:
        out.append(fts([rule("nhan", "Nhãn", [text(label, 10, "#222222", dy=size)],
                             max_scale=label_scale or zscale(16))]))
    return out


def styles():
    s = {}
    s["geodetic_control"] = [fts([
        rule("toa_do", "Điểm tọa độ", [point("triangle", 10, "#D7191C", "#000000", 1)],
             f"<ogc:Not>{like('grade', 'do_cao*')}</ogc:Not>", max_scale=minscale_of("geodetic_control")),
        rule("do_cao", "Điểm độ cao", [point("circle", 8, "#FFFFFF", "#000000", 1.5)],
             like("grade", "do_cao*"), max_scale=minscale_of("geodetic_control")),
        rule("nhan", "Số hiệu điểm", [text("point_no", 9, dy=10)], max_scale=zscale(17))])]
    s["admin_units"] = [fts([
        rule("tinh", "Ranh giới tỉnh, thành phố", [line(stroke("#6A3D9A", 3, dash="12 4 2 4"))],
             eq("level", 1)),
        rule("huyen", "Ranh giới quận, huyện", [line(stroke("#6A3D9A", 2, dash="8 3 2 3"))],
             eq("level", 2)),
        rule("xa", "Ranh giới xã, phường", [line(stroke("#8E6CB5", 1.2, dash="6 3"))],
             eq("level", 3)),
        rule("khac", "Đơn vị khác", [line(stroke("#8E6CB5", 1, dash="6 3"))], else_filter=True)]),
        fts([rule("ten", "Tên đơn vị", [text("name", 12, "#4B2A75", weight="bold", halo_r=2)],
                  max_scale=zscale(12))])]
    s["elevation_points"] = [fts([
        rule("diem", "Điểm độ cao", [point("circle", 4, "#8C510A", "#FFFFFF", 0.5)],
             max_scale=minscale_of("elevation_points")),
        rule("nhan", "Cao độ", [text("elev_m", 8, "#8C510A", dy=7)], max_scale=zscale(17))])]
    s["hydro_areas"] = [fts(
        [rule(c["code"], c["name"]["vi"], [polygon(fill(c["color"]), stroke("#4A90C8", 0.8))],
              eq("kind", c["code"])) for c in codes("hydro_kind")] +
        [rule("khac", "Mặt nước khác", [polygon(fill("#A0D2FF"), stroke("#4A90C8", 0.8))],
              else_filter=True)]),
        fts([rule("ten", "Tên sông, kênh", [text("name", 11, "#1F5F9F", style="italic")],
                  max_scale=zscale(14))])]
    s["hydro_lines"] = lines_by_code("hydro_lines", "kind", "hydro_line_kind", 1.5, label="name",
                                     widths={"kenh_muong": 2, "rach_nho": 1.2, "duong_bo": 1})
    s["roads"] = roads()
    s["buildings"] = [fts(
        [rule(c["code"], c["name"]["vi"], [polygon(fill(c["color"]), stroke(darker(c["color"]), 0.6))],
              eq("kind", c["code"]), max_scale=minscale_of("buildings")) for c in codes("building_kind")] +
        [rule("khac", "Nhà khác", [polygon(fill("#D9D0C9"), stroke("#A89F97", 0.6))],
              else_filter=True, max_scale=minscale_of("buildings"))]),
        fts([rule("ten", "Tên công trình", [text("name", 9, "#4D4D4D")], max_scale=zscale(18))])]
    s["public_facilities"] = points_by_code("public_facilities", "kind", "facility_kind", "circle",
                                            10, label="name", label_scale=zscale(16))
    s["land_cover"] = by_code("land_cover", "cover", "land_cover", None, 0.4, scheme=None)
    s["cadastral_sheets"] = [fts([
        rule("manh", "Mảnh bản đồ địa chính", [polygon(None, stroke("#555555", 1.2, dash="10 4"))],
             max_scale=minscale_of("cadastral_sheets"))]),
        fts([rule("so_to", "Số tờ", [text("sheet_no", 12, "#555555", weight="bold")],
                  max_scale=zscale(15))])]
    s["cadastral_parcels"] = land_use("cadastral_parcels", "lu_display", multi=True)
    s["land_use_current"] = land_use("land_use_current", "lu_code")
    s["land_use_plan"] = land_use("land_use_plan", "plan_code")
    s["land_price_segments"] = [fts([
        rule("vt1", "Vị trí 1", [line(stroke("#B2182B", 4, 0.7, cap="round"))], eq("position", 1),
             max_scale=minscale_of("land_price_segments")),
        rule("vt2", "Vị trí 2", [line(stroke("#EF8A62", 3, 0.7, cap="round"))], eq("position", 2),
             max_scale=minscale_of("land_price_segments")),
        rule("vt3", "Vị trí 3", [line(stroke("#FDDBC7", 3, 0.8, cap="round"))], eq("position", 3),
             max_scale=minscale_of("land_price_segments")),
        rule("khac", "Vị trí khác", [line(stroke("#999999", 2, 0.7, cap="round"))], else_filter=True,
             max_scale=minscale_of("land_price_segments"))]),
        fts([rule("ten", "Tên đoạn đường", [text("road_name", 10, "#7F0000", placement="line")],
                  max_scale=zscale(16))])]
    s["plan_boundaries"] = lines_by_code("plan_boundaries", "level", "plan_level", 2.5,
                                         dash="14 4 3 4", label=None)
    s["plan_boundaries"] = [fts(
        [rule(c["code"], c["name"]["vi"], [polygon(None, stroke(c["color"], 2.5, dash="14 4 3 4"))],
              eq("level", c["code"])) for c in codes("plan_level")] +
        [rule("khac", "Đồ án khác", [polygon(None, stroke("#555555", 2, dash="14 4 3 4"))],
              else_filter=True)]),
        fts([rule("ten", "Tên đồ án", [text("name", 11, "#333333", weight="bold")],
                  max_scale=zscale(14))])]
    s["general_plan_zones"] = zoning("general_plan_zones", "function", "zone_code", zscale(14))
    s["zoning_blocks"] = zoning("zoning_blocks", "function_code", "block_code", zscale(16))
    s["detailed_plan_lots"] = zoning("detailed_plan_lots", "function_code", "lot_code", zscale(18))
    s["red_lines"] = lines_by_code("red_lines", "kind", "red_line_kind", 1.8, dash="10 4",
                                   dashes={"cgxd": "6 3", "lo_gioi": "2 3", "hlbv_song_kenh": "8 3 2 3",
                                           "hlat_dien": "8 3 2 3"},
                                   widths={"cgdd": 2.2})
    s["infra_networks"] = lines_by_code("infra_networks", "network", "infra_network", 1.5,
                                        dashes={"vien_thong": "4 2", "chieu_sang": "1 3"})
    s["infra_facilities"] = points_by_code("infra_facilities", "kind", "infra_facility_kind",
                                           "square", 9, label="name", label_scale=zscale(17))
    s["construction_permits"] = points_by_code("construction_permits", "status", "permit_status",
                                               "star", 11, label="permit_no", label_scale=zscale(18))
    ms = minscale_of("vacant_land_fund")
    s["vacant_land_fund"] = [fts(
        [rule(c["code"], c["name"]["vi"],
              [polygon(fill(c["color"], 0.45), stroke(c["color"], 3)),
               polygon(hatch_fill("shape://slash", c["color"], 1.2, 10))],
              eq("status", c["code"]), max_scale=ms) for c in codes("fund_status")] +
        [rule("khac", "Quỹ đất khác", [polygon(fill("#FFCC00", 0.45), stroke("#FF9900", 3))],
              else_filter=True, max_scale=ms)]),
        fts([rule("ten", "Mã quỹ đất", [text("fund_id", 10, "#7F3300", weight="bold")],
                  max_scale=zscale(16))])]
    ms = minscale_of("investment_land")
    s["investment_land"] = [fts(
        [rule(c["code"], c["name"]["vi"],
              [polygon(fill(c["color"], 0.35), stroke(c["color"], 3.5, dash="12 3")),
               polygon(hatch_fill("shape://backslash", c["color"], 1.2, 10))],
              eq("status", c["code"]), max_scale=ms) for c in codes("investment_status")] +
        [rule("khac", "Dự án khác", [polygon(fill("#00A65A", 0.35), stroke("#00A65A", 3.5))],
              else_filter=True, max_scale=ms)]),
        fts([rule("ten", "Tên dự án", [text("name", 11, "#004D29", weight="bold", halo_r=2)],
                  max_scale=zscale(15))])]
    return s


def main():
    out = styles()
    ids = sorted(f[:-5] for f in os.listdir(LAYERS) if f.endswith(".json") and f != "common.json")
    missing = set(ids) - set(out)
    if missing:
        raise SystemExit(f"no style for {sorted(missing)}")
    for lid in ids:
        with open(os.path.join(HERE, lid + ".sld"), "w", encoding="utf-8") as f:
            f.write(document(lid, out[lid]))
    print(f"wrote {len(ids)} styles")


if __name__ == "__main__":
    main()
