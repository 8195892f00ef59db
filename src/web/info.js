// SPDX-License-Identifier: MIT
// info.js: the land-information panel. It lays out whatever /api/v1/land/at (or a parcel, or a
// land fund) answers as titled tables: sections in the order a citizen reads them (parcel, land
// use, land-use plan, zoning, lot, red lines, plans, price), field labels and code names from the
// catalog, geometry left to the map, and the "reference only" note always shown.
import { t, getLang } from './i18n.js';
import { el, clear, label, fmtValue, fmtNumber, codeText } from './dom.js';
import { formatDate } from './numbers.js';

// Answer keys that name a catalog layer in another way.
const SECTION_LAYER = {
  parcel: 'cadastral_parcels',
  parcels: 'cadastral_parcels',
  land_use: 'land_use_current',
  current_land_use: 'land_use_current',
  general_plan_zone: 'general_plan_zones',
  attributes: null,
  land_use_plan: 'land_use_plan',
  zoning: 'zoning_blocks',
  zoning_block: 'zoning_blocks',
  block: 'zoning_blocks',
  lot: 'detailed_plan_lots',
  detailed_plan_lot: 'detailed_plan_lots',
  plans: 'plan_boundaries',
  plan: 'plan_boundaries',
  red_lines: 'red_lines',
  road_reserve: 'red_lines',
  price: 'land_price_segments',
  land_price: 'land_price_segments',
  land_price_segment: 'land_price_segments',
  fund: 'vacant_land_fund',
};

const FUND_LAYER = { vacant: 'vacant_land_fund', investment: 'investment_land' };

const ORDER = ['parcel', 'parcels', 'land_use', 'land_use_current', 'current_land_use',
  'land_use_plan', 'zoning', 'zoning_block', 'zoning_blocks', 'block', 'lot',
  'detailed_plan_lot', 'detailed_plan_lots', 'red_lines', 'road_reserve', 'plans', 'plan',
  'plan_boundaries', 'general_plan_zone', 'price', 'land_price', 'land_price_segment',
  'land_price_segments', 'point'];

const SKIP = new Set(['geometry', 'geom', 'bbox', 'links', 'type', 'note', 'disclaimer',
  'reference_note', 'reference_only', 'method', 'order']);

// The land-price table's validity: a warning when the table shown has expired (valid_to before
// today), so nobody takes an old price for the current one.
export function priceExpiry(p, today = new Date()) {
  const to = p && typeof p.valid_to === 'string' && p.valid_to.match(/^\d{4}-\d{2}-\d{2}/) ? p.valid_to.slice(0, 10) : null;
  if (!to) return null;
  const now = today.toISOString().slice(0, 10);
  return { expired: to < now, date: to };
}

// {"vi": ..., "en": ...}: a text in both languages.
function isBilingual(v) {
  return v && typeof v === 'object' && !Array.isArray(v) && typeof v.vi === 'string' &&
    Object.keys(v).every((k) => k === 'vi' || k === 'en');
}

function bilingual(v) {
  return v[getLang()] || v.vi || v.en || '';
}

// NAME_name / NAME_codes repeat what the catalog says about the code in NAME: shown once.
function redundant(obj, k) {
  const m = k.match(/^(.*)_(name|codes)$/);
  return m && m[1] in obj && (isBilingual(obj[k]) || Array.isArray(obj[k]));
}

function isFeature(v) {
  return v && typeof v === 'object' && v.type === 'Feature' && v.properties;
}

function props(v) {
  return isFeature(v) ? { id: v.id, ...v.properties } : v;
}

function layerOf(key, obj) {
  if (obj && typeof obj === 'object' && typeof obj.layer === 'string') return obj.layer;
  return SECTION_LAYER[key] || key;
}

function table(obj, layerId) {
  const rows = [];
  const nested = [];
  for (const [k, v] of Object.entries(obj)) {
    if (SKIP.has(k) || k === 'layer' || v === null || v === undefined || v === '') continue;
    // a point's x/y are easting/northing in GIS order: X (northing) is x_n, Y (easting) is y_e
    if ((k === 'x' && 'x_n' in obj) || (k === 'y' && 'y_e' in obj)) continue;
    if (redundant(obj, k)) continue;
    if (isBilingual(v)) {
      rows.push(el('tr', { dataset: { key: k } }, el('th', { scope: 'row' }, label(k, layerId)),
        el('td', {}, bilingual(v))));
      continue;
    }
    if (Array.isArray(v)) {
      if (v.length && typeof v[0] === 'object' && v[0] !== null && !Array.isArray(v[0]))
        nested.push([k, v]);
      else if (v.length) rows.push(el('tr', {}, el('th', { scope: 'row' }, label(k, layerId)),
        el('td', {}, v.map((x) => (Array.isArray(x) ? x.join(', ') : fmtValue(k, x, layerId))).join('; '))));
      continue;
    }
    if (typeof v === 'object') {
      nested.push([k, v]);
      continue;
    }
    const named = obj[`${k}_name`];
    const text = isBilingual(named) && typeof v === 'string' ? codeText(v, bilingual(named)) : fmtValue(k, v, layerId);
    rows.push(el('tr', { dataset: { key: k } }, el('th', { scope: 'row' }, label(k, layerId)), el('td', {}, text)));
  }
  const out = [];
  if (rows.length) out.push(el('table', { class: 'kv' }, el('tbody', {}, rows)));
  for (const [k, v] of nested) out.push(section(k, v, layerId));
  return out;
}

function section(key, value, parentLayer) {
  const layerId = layerOf(key, Array.isArray(value) ? value[0] : value) || parentLayer;
  const body = [];
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      const p = props(item);
      if (p && typeof p === 'object') {
        if (value.length > 1) body.push(el('h4', {}, `${i + 1}.`));
        body.push(...table(p, layerOf(key, p)));
      } else {
        body.push(el('p', {}, fmtValue(key, p, layerId)));
      }
    });
  } else {
    body.push(...table(props(value), layerId));
  }
  if (!body.length) return null;
  if (layerId === 'land_price_segments') {
    const first = Array.isArray(value) ? props(value[0]) : props(value);
    const v = priceExpiry(first);
    if (v) body.unshift(el('p', { class: v.expired ? 'warning expired' : 'hint', role: v.expired ? 'alert' : null,
      dataset: { priceExpired: v.expired ? '1' : '0' } },
      t(v.expired ? 'price.expired' : 'price.valid', { d: formatDate(v.date, getLang()) })));
  }
  return el('section', { class: 'info-section', dataset: { section: key } },
    el('h3', {}, label(key, layerId)), body);
}

// The "reference only" text of an answer, or the page's own.
function note(data) {
  for (const k of ['note', 'disclaimer', 'reference_note']) {
    const v = data && data[k];
    if (typeof v === 'string' && v) return v;
    if (isBilingual(v)) return bilingual(v);
  }
  return t('info.reference');
}

// Fills container with the answer; returns {key, geometry} of the parcel when there is one.
export function renderLandInfo(container, data) {
  clear(container);
  const obj = props(data) || {};
  if (!obj.layer && FUND_LAYER[obj.kind]) obj.layer = FUND_LAYER[obj.kind];
  const keys = Object.keys(obj);
  const ordered = [...ORDER.filter((k) => keys.includes(k)), ...keys.filter((k) => !ORDER.includes(k))];
  const general = {};
  const sections = [];
  for (const k of ordered) {
    const v = obj[k];
    if (SKIP.has(k) || v === null || v === undefined || redundant(obj, k)) continue;
    if (typeof v === 'object' && !isBilingual(v)) {
      if (Array.isArray(v) && !v.length) continue;
      const s = section(k, v);
      if (s) sections.push(s);
    } else {
      general[k] = v;
    }
  }
  if (Object.keys(general).length) container.append(...table(general, obj.layer));
  container.append(...sections);
  if (!sections.length && !Object.keys(general).length)
    container.append(el('p', {}, t('info.nothing')));
  container.append(el('p', { class: 'note', role: 'note' }, note(obj)));
  const parcel = obj.parcel ? props(obj.parcel) : obj.parcel_key ? obj : null;
  const geometry = (obj.parcel && obj.parcel.geometry) || (isFeature(data) && data.geometry) || null;
  return { key: parcel ? parcel.parcel_key || parcel.key || null : null, geometry };
}

// The parcel's corner coordinates as a cadastral extract lists them (VN-2000, X = northing
// first), from /api/v1/parcels/{key}/planning.
export function renderCorners(container, corners) {
  const rings = corners && Array.isArray(corners.rings) ? corners.rings : [];
  if (!rings.length) return;
  const rows = [];
  rings.forEach((ring, r) => {
    for (const c of ring) {
      rows.push(el('tr', {}, el('td', {}, rings.length > 1 ? `${r + 1}.${c.no}` : String(c.no)),
        el('td', {}, fmtNumber(c.x_n, 3)), el('td', {}, fmtNumber(c.y_e, 3)),
        el('td', {}, c.edge_m != null ? fmtNumber(c.edge_m, 2) : '')));
    }
  });
  container.append(el('section', { class: 'info-section', dataset: { section: 'corners' } },
    el('h3', {}, `${label('corners')} — ${corners.crs || ''}`),
    el('table', { class: 'corners' },
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, t('corner.no')), el('th', { scope: 'col' }, label('x_n')),
        el('th', { scope: 'col' }, label('y_e')), el('th', { scope: 'col' }, t('corner.edge')))),
      el('tbody', {}, rows))));
}
