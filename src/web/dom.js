// SPDX-License-Identifier: MIT
// dom.js: building elements without innerHTML (every text goes in as a text node), number and
// code formatting with the catalog's labels, and fetch with spp's problem JSON as the error.
import { t, getLang, has } from './i18n.js';
import { formatNumber, formatScale, formatDate } from './numbers.js';

// el('div', {class: 'x', onclick: fn}, 'text', child...): an element; strings become text nodes.
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

// An HTTP error with the problem JSON's detail as its message.
export class ApiError extends Error {
  constructor(status, detail, parameter) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.parameter = parameter || null;
  }
}

// What went wrong, in the user's language: the server's problem JSON is English (for programs),
// so the page says it in its own words, naming the parameter by its label.
export function errorText(e) {
  if (e instanceof ApiError) {
    if (e.status === 400 && e.parameter) return t('err.param', { p: label(e.parameter) });
    if (e.status === 400) return t('err.bad');
    if (e.status === 401 || e.status === 403) return t('err.denied');
    if (e.status === 404) return t('err.notfound');
    if (e.status === 429 || e.status === 503) return t('err.busy');
    return t('err.server');
  }
  if (e && e.i18n) return t(e.i18n, e.vars);
  return t('err.network');
}

export async function getJSON(url) {
  const r = await fetch(url, { headers: { Accept: 'application/json' } });
  const text = await r.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    if (r.ok) throw new ApiError(r.status, 'invalid JSON');
  }
  if (!r.ok) throw new ApiError(r.status, body && (body.detail || body.title), body && body.parameter);
  return body;
}

// The catalog, indexed: layers by id, fields by name (first layer wins), code lists by id.
export const cat = { layers: new Map(), fields: new Map(), codelists: new Map(), raw: null };

export function setCatalog(c) {
  cat.raw = c;
  for (const l of c.layers) {
    cat.layers.set(l.id, l);
    for (const f of l.fields) if (!cat.fields.has(f.name)) cat.fields.set(f.name, f);
  }
  for (const [id, cl] of Object.entries(c.codelists)) {
    const byCode = new Map();
    // Newest scheme last wins: TT08_2024 names replace TT27_2018 ones for the same code.
    for (const code of cl.codes) byCode.set(code.code, code);
    cat.codelists.set(id, { ...cl, byCode });
  }
}

export function layerTitle(id) {
  const l = cat.layers.get(id);
  return l ? l.title[getLang()] || l.title.vi : id;
}

// The label of a key: the page's words first, then the catalog's field label, else the key.
export function label(key, layerId) {
  if (has(`k.${key}`)) return t(`k.${key}`);
  const l = layerId && cat.layers.get(layerId);
  const f = (l && l.fields.find((x) => x.name === key)) || cat.fields.get(key);
  if (f) return f.label[getLang()] || f.label.vi;
  if (cat.layers.has(key)) return layerTitle(key);
  // never a raw key: a page word for the parts of the name the catalog does not know
  return t('k.other');
}

export function codeName(listId, code) {
  const cl = cat.codelists.get(listId);
  const c = cl && cl.byCode.get(String(code));
  return c ? c.name[getLang()] || c.name.vi : null;
}

// A code with its name: official codes people know (ODT, CLN, II-7) stay in front of the name;
// internal identifiers (hieu_luc, do_thi_chinh) are not shown, only their name.
export function codeText(code, name) {
  if (!name) return String(code);
  return /^[A-Z0-9][A-Z0-9+.\-/]*$/.test(String(code)) ? `${code} — ${name}` : name;
}

export function codeColor(listId, code) {
  const cl = cat.codelists.get(listId);
  const c = cl && cl.byCode.get(String(code));
  return c ? c.color : null;
}

export function fmtNumber(v, digits = 2) {
  return formatNumber(v, getLang(), digits);
}

const DATE_KEYS = /(^|_)(date|deadline|valid_from|valid_to|issued|expires?)($|_)/;

// Units as the catalog writes them -> the page's words for them.
const UNITS = { m2: 'unit.m2', 'm²': 'unit.m2', m: 'unit.m', deg: 'unit.deg', 'VND/m2': 'unit.vnd_m2',
  'VND/m²': 'unit.vnd_m2', 'dong/m2': 'unit.vnd_m2', 'persons/ha': 'unit.person_ha', ha: 'unit.ha', 'billion VND': 'unit.billion_vnd' };

// A value as text, with code names ("ODT — Đất ở tại đô thị") and units.
export function fmtValue(key, v, layerId) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'boolean') return v ? t('yes') : t('no');
  if (key === 'kind' && typeof v === 'string' && has(`kind.${v}`)) return t(`kind.${v}`);
  const l = layerId && cat.layers.get(layerId);
  const f = (l && l.fields.find((x) => x.name === key)) || cat.fields.get(key);
  if (f && f.codelist && typeof v === 'string') {
    const parts = f.multi || v.includes('+') ? v.split('+') : [v];
    return parts
      .map((p) => {
        return codeText(p.trim(), codeName(f.codelist, p.trim()));
      })
      .join(' + ');
  }
  if (f && f.type === 'boolean' && (v === 0 || v === 1)) return v ? t('yes') : t('no');
  if (key === 'scale' || key.endsWith('_scale')) return formatScale(v, getLang());
  if (typeof v === 'string' && ((f && (f.type === 'date' || f.type === 'datetime')) || DATE_KEYS.test(key)) &&
      /^\d{4}-\d{2}-\d{2}/.test(v))
    return formatDate(v, getLang());
  if (typeof v === 'number') {
    if (Number.isInteger(v) && ((f && f.type === 'integer' && !f.unit) || /(_no|_year|^year|^fid|_id)$/.test(key)))
      return String(v);
    const unit = (f && f.unit) || (key.endsWith('_m2') ? 'm²' : key.endsWith('_m') ? 'm' : key.endsWith('_pct') ? '%' : '');
    const u = UNITS[unit] ? t(UNITS[unit]) : unit;
    if (unit === '%' || unit === 'pct') return `${fmtNumber(v, 2)} %`;
    return u ? `${fmtNumber(v)} ${u}` : fmtNumber(v, 4);
  }
  return String(v);
}

// A CSS colour from data, only as #hex or rgb()/rgba() numbers (anything else: grey).
export function safeColor(c) {
  return typeof c === 'string' && /^(#[0-9a-f]{3,8}|rgba?\([0-9., %]+\))$/i.test(c.trim()) ? c.trim() : '#999999';
}
