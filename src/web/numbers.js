// SPDX-License-Identifier: MIT
// numbers.js: numbers and coordinates as people type and paste them in Vietnam. Vietnamese
// writes "1.109.719,714" (dot thousands, comma decimal) or "1 109 719,714"; software and English
// write "1109719.714" or "1,109,719.714"; areas come as "40.000" (forty thousand). Coordinates
// come as a VN-2000 pair (X = northing first in survey tables, though both orders are seen),
// decimal degrees, or degrees-minutes-seconds. Pure functions (no DOM): the browser tests import
// them too.

// One number token. Order matters: grouped forms before the plain one. A group must be followed
// by a non-digit, so "10.0438" is the decimal 10.0438, not "10.043" + "8".
const GROUPED_DOT = String.raw`\d{1,3}(?:[ .\u00a0\u202f]\d{3})+(?!\d)(?:,\d+)?`; // 1.109.719,714
const GROUPED_COMMA = String.raw`\d{1,3}(?:,\d{3})+(?![\d])(?:\.\d+)?`; // 1,109,719.714
const PLAIN = String.raw`\d+(?:[.,]\d+)?`; // 1109719.714, 1109719,714
const TOKEN = new RegExp(`-?(?:${GROUPED_DOT}|${GROUPED_COMMA}|${PLAIN})`, 'g');

// The value of one number token in lang ('vi' or 'en'). A lone "585,107" is a decimal comma in
// Vietnamese and a thousands comma in English; a lone "40.000" is forty thousand in both (nobody
// types three decimals of a square metre, and "1109719.714" has more than three digits before
// its dot, so it stays a decimal).
function tokenValue(tok, lang) {
  let s = tok.replace(/[\s\u00a0\u202f]/g, '');
  const dots = (s.match(/\./g) || []).length, commas = (s.match(/,/g) || []).length;
  if (dots && commas) {
    // the last of the two is the decimal mark
    if (s.lastIndexOf(',') > s.lastIndexOf('.')) s = s.replace(/\./g, '').replace(',', '.');
    else s = s.replace(/,/g, '');
  } else if (dots > 1 || (dots === 1 && /^-?\d{1,3}\.\d{3}$/.test(s))) {
    s = s.replace(/\./g, '');
  } else if (commas > 1 || (commas === 1 && lang === 'en' && /^-?\d{1,3},\d{3}$/.test(s))) {
    s = s.replace(/,/g, '');
  } else if (commas === 1) {
    s = s.replace(',', '.');
  }
  const v = Number(s);
  return Number.isFinite(v) ? v : NaN;
}

// The numbers in a text, in order.
export function numbersIn(text, lang = 'vi') {
  return (String(text).match(TOKEN) || []).map((t) => tokenValue(t.trim(), lang)).filter((v) => !Number.isNaN(v));
}

// One number from an input ("40.000", "1 109 719,714", "12,5"): NaN unless the text is exactly
// one number (units such as "m²" or "m2" after it are allowed).
export function parseNumber(text, lang = 'vi') {
  const s = String(text ?? '').trim().replace(/\s*(m²|m2|m|ha)$/i, '');
  if (!s) return NaN;
  const m = s.match(TOKEN);
  if (!m || m.length !== 1 || m[0].trim() !== s) return NaN;
  return tokenValue(m[0].trim(), lang);
}

// Degrees-minutes-seconds: 10°02'37.7"N, 10 02 37.7 B, 105°46′41″Đ. Returns the degrees found in
// order with their hemisphere letter (N/S/E/W or Vietnamese B/N(am)/Đ/T), or null.
const DMS = /(-?\d+(?:[.,]\d+)?)\s*[°º]\s*(?:(\d+(?:[.,]\d+)?)\s*['′’]\s*)?(?:(\d+(?:[.,]\d+)?)\s*(?:["″”]|'')\s*)?([NSEWBĐTnsewbđt])?/g;
export function parseDMS(text) {
  const out = [];
  for (const m of String(text).matchAll(DMS)) {
    const n = (x) => (x ? Number(x.replace(',', '.')) : 0);
    let v = Math.abs(n(m[1])) + n(m[2]) / 60 + n(m[3]) / 3600;
    const h = (m[4] || '').toUpperCase();
    if (m[1].startsWith('-') || h === 'S' || h === 'W' || h === 'T') v = -v;
    out.push({ value: v, hemi: h });
  }
  return out.length >= 2 ? out : null;
}

// Vietnam's mainland and islands, generously: what decides whether two numbers are degrees.
const LAT = [6, 24], LON = [100, 118];
const inRange = (v, [a, b]) => v >= a && v <= b;

// A pasted coordinate pair. crs: 'auto' (detect), 'wgs84', or a VN-2000 EPSG code. Returns
// {crs: 'EPSG:4326', lon, lat} or {crs: 'EPSG:5897'|..., x, y} (x = northing, y = easting,
// whichever order they came in) or {error: key} with an i18n key of the page's strings.
export function parseCoordinates(text, crs = 'auto', lang = 'vi', defaultVn = 'EPSG:5897') {
  const src = String(text ?? '').trim();
  if (!src) return { error: 'coord.empty' };
  const dms = parseDMS(src);
  let nums;
  if (dms) {
    // B/N(orth) or a value in latitude range is the latitude; Đ/E/T/W the longitude
    const [a, b] = dms;
    const isLon = (d) => 'EĐWT'.includes(d.hemi) || (!d.hemi && Math.abs(d.value) > 90);
    const [lon, lat] = isLon(a) || (!isLon(b) && Math.abs(a.value) > Math.abs(b.value)) ? [a.value, b.value] : [b.value, a.value];
    if (crs !== 'auto' && crs !== 'wgs84') return { error: 'coord.dms_vn2000' };
    return checkDegrees(lon, lat);
  }
  // "X = 1109719,714; Y = 586184,889": labels decide when given
  const lx = src.match(/\bX\s*[:=]?\s*(-?[\d .,\u00a0\u202f]+?)(?=\s*(?:[;\n\t]|Y\b|$))/i);
  const ly = src.match(/\bY\s*[:=]?\s*(-?[\d .,\u00a0\u202f]+?)(?=\s*(?:[;\n\t]|X\b|$))/i);
  if (lx && ly) {
    const x = numbersIn(lx[1], lang), y = numbersIn(ly[1], lang);
    nums = x.length === 1 && y.length === 1 ? [x[0], y[0]] : null;
  }
  if (!nums) {
    // "10.0438, 105.7782": a comma and a space part two numbers, so split there first
    const parts = src.split(/\s*[;\t\n/]\s*|,\s+|\s{2,}/).filter(Boolean);
    nums = parts.length === 2 ? parts.map((p) => numbersIn(p, lang)).flat() : numbersIn(src, lang);
  }
  if (nums.length < 2) return { error: 'coord.two' };
  if (nums.length > 2) return { error: 'coord.many' };
  const [a, b] = nums;
  const degrees = Math.abs(a) <= 180 && Math.abs(b) <= 180;
  if (crs === 'wgs84' || (crs === 'auto' && degrees)) {
    if (!degrees) return { error: 'coord.not_degrees' };
    // latitude first (as Google Maps copies it) unless the first one can only be a longitude
    const [lat, lon] = Math.abs(a) > 90 || (inRange(a, LON) && inRange(b, LAT)) ? [b, a] : [a, b];
    return checkDegrees(lon, lat);
  }
  if (degrees) return { error: 'coord.degrees_as_vn2000' };
  // VN-2000 in Vietnam: northing 900 000 - 2 600 000 m, easting 100 000 - 900 000 m (TM-3 and
  // UTM zones). The one in the northing range is X, whatever the order.
  const north = (v) => v >= 900000 && v <= 2700000, east = (v) => v >= 100000 && v < 900000;
  let x, y, swapped = false;
  if (north(a) && east(b)) [x, y] = [a, b];
  else if (east(a) && north(b)) [x, y, swapped] = [b, a, true];
  else return { error: 'coord.not_vn2000' };
  return { crs: crs === 'auto' ? defaultVn : crs, x, y, swapped };
}

function checkDegrees(lon, lat) {
  if (!(Math.abs(lat) <= 90 && Math.abs(lon) <= 180)) return { error: 'coord.not_degrees' };
  return { crs: 'EPSG:4326', lon, lat };
}

// Formats v in lang's form: 1.109.719,714 (vi) / 1,109,719.714 (en).
export function formatNumber(v, lang = 'vi', digits = 2, minDigits = 0) {
  return Number(v).toLocaleString(lang === 'vi' ? 'vi-VN' : 'en-GB',
    { maximumFractionDigits: digits, minimumFractionDigits: minDigits });
}

// A map scale denominator as the locale writes it: 1:25.000 (vi), 1:25,000 (en).
export function formatScale(v, lang = 'vi') {
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? `1:${formatNumber(Math.round(n), lang, 0)}` : String(v);
}

// An ISO date (2013-08-28, or a timestamp) in the locale: 28/08/2013 (vi) / 28 Aug 2013 (en).
export function formatDate(v, lang = 'vi') {
  const m = String(v).match(/^(\d{4})-(\d{2})-(\d{2})/);
  if (!m) return String(v);
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return lang === 'vi'
    ? d.toLocaleDateString('vi-VN', { timeZone: 'UTC', day: '2-digit', month: '2-digit', year: 'numeric' })
    : d.toLocaleDateString('en-GB', { timeZone: 'UTC', day: 'numeric', month: 'short', year: 'numeric' });
}

// A degree value as D°M'S" with its hemisphere (B/Đ in Vietnamese, N/E in English).
export function formatDMS(v, isLat, lang = 'vi') {
  const a = Math.abs(v);
  const d = Math.floor(a), mf = (a - d) * 60, m = Math.floor(mf), s = (mf - m) * 60;
  const h = isLat ? (v >= 0 ? (lang === 'vi' ? 'B' : 'N') : (lang === 'vi' ? 'N' : 'S'))
    : (v >= 0 ? (lang === 'vi' ? 'Đ' : 'E') : (lang === 'vi' ? 'T' : 'W'));
  return `${d}°${String(m).padStart(2, '0')}′${formatNumber(s, lang, 2, 2)}″ ${h}`;
}
