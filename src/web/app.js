// SPDX-License-Identifier: MIT
// app.js: the web map. MapLibre GL JS (served by spp from npm) draws spp's vector tiles with the
// style spp generates from its SLD styles; the layer list and legend follow the catalog's groups;
// a click asks /api/v1/land/at; parcels are found by commune + sheet + parcel number or by VN-2000
// X/Y; the land-fund search lists, pages, maps and exports results. What the user chose (language,
// tab, hidden layers, point, parcel, fund filters) is kept in the URL, the view in its #hash.
import * as maplibregl from '/web/vendor/maplibre-gl.mjs';
import { t, setLang, getLang, translatePage } from './i18n.js';
import { el, clear, getJSON, cat, setCatalog, layerTitle, label, codeName, fmtValue, fmtNumber } from './dom.js';
import { renderLandInfo } from './info.js';
import { FundSearch } from './funds.js';

const STYLE_URL = null; // spp's generated style, once /styles/ serves one
const TILEJSON_URL = '/tiles/all.json';
const GLYPHS = '/fonts/{fontstack}/{range}.pbf';
const FONT = ['DejaVu Sans Book'];
const GROUP_ORDER = ['land', 'construction', 'transport', 'planning'];
// Layers the catalog style leaves off at first (reference or overview layers that hide the rest).
const START_OFF = new Set(['geodetic_control', 'elevation_points', 'land_cover', 'cadastral_sheets',
  'general_plan_zones', 'land_use_plan', 'infra_networks', 'infra_facilities', 'construction_permits',
  'land_price_segments', 'buildings']);
// Polygon layers whose label the catalog style draws (other polygons are read in the panel).
const POLYGON_LABELS = new Set(['cadastral_parcels', 'vacant_land_fund', 'investment_land', 'hydro_areas']);
// Polygon layers drawn as outlines only in the catalog style.
const OUTLINE_ONLY = new Set(['admin_units', 'plan_boundaries', 'cadastral_sheets']);
const $ = (id) => document.getElementById(id);

const state = {
  map: null,
  style: null,
  hidden: new Set(),
  point: null,        // {lon, lat} last clicked / looked up
  info: null,         // last answer shown in the panel, re-rendered on language change
  infoUrl: null,
  parcelKey: null,
  marker: null,
  funds: null,
};

function status(msg, isError) {
  const s = $('status');
  s.textContent = msg || '';
  s.classList.toggle('error', !!isError);
  if (msg) setTimeout(() => { if (s.textContent === msg) s.textContent = ''; }, 6000);
}

/* URL state. */
export function urlParams() {
  return new URLSearchParams(location.search);
}

export function setUrlParams(update) {
  const p = urlParams();
  for (const [k, v] of Object.entries(update)) {
    if (v === null || v === undefined || v === '') p.delete(k);
    else p.set(k, v);
  }
  const q = p.toString();
  history.replaceState(null, '', `${location.pathname}${q ? `?${q}` : ''}${location.hash}`);
}

/* The style: spp's own, made absolute, with spp's glyphs; or one built from the catalog. */
function absolute(u) {
  return typeof u === 'string' && u.startsWith('/') ? location.origin + u : u;
}

function colorExpr(l) {
  const f = l.fields.find((x) => x.codelist && (cat.codelists.get(x.codelist)?.codes || []).some((c) => c.color));
  if (!f) return null;
  const pairs = [];
  for (const [code, c] of cat.codelists.get(f.codelist).byCode) if (c.color) pairs.push(code, c.color);
  return ['match', ['to-string', ['get', f.name]], ...pairs, '#bdbdbd'];
}

function catalogStyle() {
  const layers = [{ id: 'background', type: 'background', paint: { 'background-color': '#f3f1ec' } }];
  for (const l of cat.raw.layers) {
    const base = { source: 'spp', 'source-layer': l.id, minzoom: l.minzoom, maxzoom: l.maxzoom + 1,
      layout: { visibility: START_OFF.has(l.id) ? 'none' : 'visible' } };
    const color = colorExpr(l) || '#6d7f99';
    if (l.geometry.includes('POLYGON')) {
      if (!OUTLINE_ONLY.has(l.id))
        layers.push({ ...base, id: `${l.id}-fill`, type: 'fill', paint: { 'fill-color': color, 'fill-opacity': 0.45 } });
      layers.push({ ...base, id: `${l.id}-line`, type: 'line',
        paint: OUTLINE_ONLY.has(l.id) ? { 'line-color': '#7b1fa2', 'line-width': 1.5, 'line-dasharray': [3, 2] }
          : { 'line-color': '#555', 'line-width': 0.6 } });
    } else if (l.geometry.includes('LINE')) {
      layers.push({ ...base, id: `${l.id}-line`, type: 'line', paint: { 'line-color': color, 'line-width': 1.5 } });
    } else {
      layers.push({ ...base, id: `${l.id}-circle`, type: 'circle', paint: { 'circle-color': color, 'circle-radius': 4 } });
    }
    if (l.label && (!l.geometry.includes('POLYGON') || POLYGON_LABELS.has(l.id))) {
      layers.push({
        ...base, id: `${l.id}-label`, type: 'symbol',
        layout: { ...base.layout, 'text-field': ['to-string', ['get', l.label]], 'text-font': FONT, 'text-size': 12,
          'symbol-placement': l.geometry.includes('LINE') ? 'line' : 'point' },
        paint: { 'text-color': '#222', 'text-halo-color': '#fff', 'text-halo-width': 1.2 },
      });
    }
  }
  return { version: 8, sources: { spp: { type: 'vector', url: TILEJSON_URL } }, glyphs: GLYPHS, layers };
}

async function loadStyle() {
  let style = null;
  if (STYLE_URL) {
    const r = await fetch(STYLE_URL, { headers: { Accept: 'application/json' } });
    if (r.ok) style = await r.json();
  }
  if (!style) style = catalogStyle();
  style.glyphs = absolute(GLYPHS);
  for (const s of Object.values(style.sources || {})) {
    if (s.url) s.url = absolute(s.url);
    if (s.tiles) s.tiles = s.tiles.map(absolute);
  }
  return style;
}

/* Layers and legend, grouped as the catalog groups them. */
function styleLayersOf(layerId) {
  return (state.style?.layers || []).filter((s) => s['source-layer'] === layerId);
}

function applyVisibility() {
  if (!state.map || !state.map.getStyle()) return;
  for (const s of state.style.layers) {
    if (!s['source-layer'] || !state.map.getLayer(s.id)) continue;
    state.map.setLayoutProperty(s.id, 'visibility', state.hidden.has(s['source-layer']) ? 'none' : 'visible');
  }
}

function legendEntries(layerId) {
  const out = [];
  for (const s of styleLayersOf(layerId)) {
    const paint = s.paint || {};
    const c = paint['fill-color'] ?? paint['line-color'] ?? paint['circle-color'];
    if (!c || s.type === 'symbol') continue;
    if (typeof c === 'string') {
      if (!out.length) out.push({ color: c, text: layerTitle(layerId), type: s.type });
    } else if (Array.isArray(c) && c[0] === 'match') {
      const getter = JSON.stringify(c[1]).match(/"get","([a-z0-9_]+)"/);
      const field = getter && cat.layers.get(layerId)?.fields.find((f) => f.name === getter[1]);
      for (let i = 2; i + 1 < c.length; i += 2) {
        const codes = Array.isArray(c[i]) ? c[i] : [c[i]];
        const names = codes.map((code) => {
          const n = field?.codelist ? codeName(field.codelist, code) : null;
          return n ? `${code} — ${n}` : String(code);
        });
        out.push({ color: c[i + 1], text: names.join(', '), type: s.type });
      }
      out.push({ color: c[c.length - 1], text: t('legend.other'), type: s.type });
      break;
    }
  }
  return out;
}

function renderLayers() {
  const box = clear($('layer-groups'));
  const groups = [...(cat.raw.groups || [])].sort((a, b) => GROUP_ORDER.indexOf(a) - GROUP_ORDER.indexOf(b));
  for (const g of groups) {
    const items = cat.raw.layers.filter((l) => l.group === g && styleLayersOf(l.id).length);
    if (!items.length) continue;
    const list = el('ul', { class: 'layer-list' });
    for (const l of items) {
      const id = `layer-${l.id}`;
      const cb = el('input', { type: 'checkbox', id, checked: !state.hidden.has(l.id), dataset: { layer: l.id } });
      cb.addEventListener('change', () => {
        if (cb.checked) state.hidden.delete(l.id);
        else state.hidden.add(l.id);
        applyVisibility();
        setUrlParams({ off: [...state.hidden].sort().join(',') });
      });
      const entries = legendEntries(l.id);
      const legend = entries.length > 1
        ? el('details', { class: 'legend' }, el('summary', {}, t('legend')),
          el('ul', {}, entries.map((e) => el('li', {}, el('span', { class: `swatch ${e.type}`, style: `background:${e.color}` }), e.text))))
        : null;
      const sw = entries.length === 1 ? el('span', { class: `swatch ${entries[0].type}`, style: `background:${entries[0].color}` }) : null;
      list.append(el('li', {}, el('label', { for: id }, cb, sw, layerTitle(l.id)), legend));
    }
    box.append(el('fieldset', { class: 'group', dataset: { group: g } }, el('legend', {}, t(`group.${g}`)), list));
  }
}

/* The land-information panel. */
function showPanel() {
  const info = $('info');
  info.hidden = false;
  state.map?.resize();
}

function highlight(key, geometry) {
  state.parcelKey = key;
  const map = state.map;
  if (!map) return;
  const src = map.getSource('selection');
  if (src) src.setData(geometry ? { type: 'Feature', properties: {}, geometry } : { type: 'FeatureCollection', features: [] });
  if (map.getLayer('selection-vt')) map.setFilter('selection-vt', ['==', ['get', 'parcel_key'], key || '\u0000']);
}

function renderInfo() {
  if (!state.info) return;
  const r = renderLandInfo($('info-body'), state.info);
  highlight(r.key, r.geometry);
  return r;
}

async function lookup(url, point) {
  showPanel();
  const body = clear($('info-body'));
  body.append(el('p', { class: 'loading' }, t('info.loading')));
  try {
    state.info = await getJSON(url);
    state.infoUrl = url;
    const r = renderInfo();
    const p = point || pointOf(state.info);
    if (p) setPoint(p, !point);
    setUrlParams({ parcel: r?.key || null });
    return state.info;
  } catch (e) {
    state.info = null;
    clear(body).append(el('p', { class: 'error' }, t('error', { msg: e.message })));
    highlight(null, null);
    return null;
  }
}

// A {lon, lat} in an answer, if it gives one.
function pointOf(d) {
  const p = d && (d.point || d.location || d.query);
  for (const o of [p, d]) {
    if (o && typeof o.lon === 'number' && typeof o.lat === 'number') return { lon: o.lon, lat: o.lat };
    if (o && o.type === 'Point' && Array.isArray(o.coordinates)) return { lon: o.coordinates[0], lat: o.coordinates[1] };
  }
  const g = d?.parcel?.geometry;
  return g ? interiorPoint(g) : null;
}

function setPoint(p, fly) {
  state.point = p;
  if (!state.map) return;
  if (!state.marker) state.marker = new maplibregl.Marker({ color: '#c62828' });
  state.marker.setLngLat([p.lon, p.lat]).addTo(state.map);
  if (fly) state.map.easeTo({ center: [p.lon, p.lat], zoom: Math.max(state.map.getZoom(), 17) });
  setUrlParams({ at: `${p.lon.toFixed(6)},${p.lat.toFixed(6)}` });
}

export function landAt(lon, lat) {
  return lookup(`/api/v1/land/at?lon=${lon.toFixed(7)}&lat=${lat.toFixed(7)}`, { lon, lat });
}

/* Geometry helpers: bounds and a point inside a polygon (widest span of the middle scanline). */
export function bounds(g) {
  let b = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => {
    if (typeof c[0] === 'number') b = [Math.min(b[0], c[0]), Math.min(b[1], c[1]), Math.max(b[2], c[0]), Math.max(b[3], c[1])];
    else c.forEach(walk);
  };
  walk(g.coordinates);
  return b;
}

export function interiorPoint(g) {
  const b = bounds(g);
  if (g.type === 'Point') return { lon: g.coordinates[0], lat: g.coordinates[1] };
  const polys = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : null;
  const y = (b[1] + b[3]) / 2;
  if (!polys) return { lon: (b[0] + b[2]) / 2, lat: y };
  const xs = [];
  for (const poly of polys) for (const ring of poly)
    for (let i = 0; i + 1 < ring.length; i++) {
      const [x1, y1] = ring[i], [x2, y2] = ring[i + 1];
      if ((y1 > y) !== (y2 > y)) xs.push(x1 + ((y - y1) * (x2 - x1)) / (y2 - y1));
    }
  xs.sort((a, c) => a - c);
  let best = null;
  for (let i = 0; i + 1 < xs.length; i += 2) if (!best || xs[i + 1] - xs[i] > best[1] - best[0]) best = [xs[i], xs[i + 1]];
  return best ? { lon: (best[0] + best[1]) / 2, lat: y } : { lon: (b[0] + b[2]) / 2, lat: y };
}

function fitGeometry(g) {
  const b = bounds(g);
  if (!isFinite(b[0])) return;
  state.map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 60, maxZoom: 19, duration: 0 });
}

/* Parcel search: commune + sheet + parcel, and VN-2000 X/Y. */
function featuresOf(d) {
  if (!d) return [];
  if (Array.isArray(d)) return d;
  return d.features || d.parcels || d.items || d.results || (d.parcel_key || d.properties ? [d] : []);
}

async function openParcel(item) {
  const p = item.properties || item;
  const key = p.parcel_key || p.key || item.id;
  let geometry = item.geometry;
  if (!geometry && key) {
    try {
      const d = await getJSON(`/api/v1/parcels/${encodeURIComponent(key)}`);
      geometry = d.geometry || d.parcel?.geometry || null;
    } catch (e) {
      status(t('error', { msg: e.message }), true);
    }
  }
  const pt = geometry ? interiorPoint(geometry) : pointOf(p);
  if (geometry) fitGeometry(geometry);
  if (pt) await landAt(pt.lon, pt.lat);
}

async function searchParcel(ev) {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const q = new URLSearchParams({ commune: f.get('commune').trim(), sheet: f.get('sheet').trim(), parcel: f.get('parcel').trim() });
  const out = clear($('parcel-results'));
  try {
    const list = featuresOf(await getJSON(`/api/v1/parcels?${q}`));
    if (!list.length) {
      out.append(el('p', {}, t('search.none')));
      return;
    }
    out.append(el('p', {}, t('search.found', { n: list.length })));
    const ul = el('ul', { class: 'results' });
    for (const item of list) {
      const p = item.properties || item;
      ul.append(el('li', {}, el('button', { type: 'button', class: 'result', onclick: () => openParcel(item) },
        `${p.parcel_key || p.key} — ${label('sheet_no')} ${p.sheet_no ?? ''}, ${label('parcel_no')} ${p.parcel_no ?? ''}`,
        p.area_m2 != null ? ` (${fmtValue('area_m2', p.area_m2, 'cadastral_parcels')})` : '')));
    }
    out.append(ul);
    if (list.length === 1) await openParcel(list[0]);
  } catch (e) {
    out.append(el('p', { class: 'error' }, t('error', { msg: e.message })));
  }
}

// "1109719.714 586184.889", "X: 1109719,714; Y: 586184,889": the two numbers, X (northing) first.
export function parseXY(text) {
  const nums = (text.match(/-?\d+(?:[.,]\d+)?/g) || []).map((s) => Number(s.replace(',', '.')));
  return nums.length >= 2 ? { x: nums[0], y: nums[1] } : null;
}

async function searchXY(ev) {
  ev.preventDefault();
  const x = $('xy-x').value.trim().replace(',', '.');
  const y = $('xy-y').value.trim().replace(',', '.');
  const crs = $('xy-crs').value;
  await lookup(`/api/v1/land/at?${new URLSearchParams({ x, y, crs, order: 'xy-vn' })}`, null);
}

/* Tabs and language. */
function selectTab(name, focus) {
  for (const b of document.querySelectorAll('[role=tab]')) {
    const on = b.dataset.tab === name;
    b.setAttribute('aria-selected', on ? 'true' : 'false');
    b.tabIndex = on ? 0 : -1;
    $(`pane-${b.dataset.tab}`).hidden = !on;
    if (on && focus) b.focus();
  }
  setUrlParams({ tab: name === 'layers' ? null : name });
}

function applyLang(l) {
  setLang(l);
  translatePage();
  const btn = $('lang');
  const other = getLang() === 'vi' ? 'en' : 'vi';
  btn.textContent = other.toUpperCase();
  btn.lang = other;
  btn.setAttribute('aria-label', other === 'en' ? 'English' : 'Tiếng Việt');
  if (cat.raw) {
    renderLayers();
    state.funds?.fillSelects();
    state.funds?.render();
    renderInfo();
  }
  setUrlParams({ lang: getLang() === 'vi' ? null : getLang() });
}

/* Printing: the map as an image above the table, then the browser's print dialog. */
function printSheet() {
  const map = state.map;
  const img = $('print-map');
  map.once('render', () => {
    img.src = map.getCanvas().toDataURL('image/png');
    img.alt = t('info.sheet');
    setTimeout(() => window.print(), 50);
  });
  map.triggerRepaint();
}

/* Start-up. */
// The first view: the style's own, else the bounds of the tiles' TileJSON.
async function fitData(map) {
  if (state.style.center) {
    map.jumpTo({ center: state.style.center, zoom: state.style.zoom ?? 14 });
    return;
  }
  const src = Object.values(state.style.sources).find((s) => s.type === 'vector' && s.url);
  if (!src) return;
  try {
    const tj = await getJSON(src.url);
    if (Array.isArray(tj.bounds)) map.fitBounds([[tj.bounds[0], tj.bounds[1]], [tj.bounds[2], tj.bounds[3]]], { padding: 20, duration: 0 });
  } catch (e) {
    status(t('error', { msg: e.message }), true);
  }
}

function addOverlays(map) {
  map.addSource('selection', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: 'selection-fill', type: 'fill', source: 'selection', paint: { 'fill-color': '#ffeb3b', 'fill-opacity': 0.35 } });
  map.addLayer({ id: 'selection-line', type: 'line', source: 'selection', paint: { 'line-color': '#d50000', 'line-width': 3 } });
  const parcels = state.style.layers.find((s) => s['source-layer'] === 'cadastral_parcels');
  if (parcels) {
    map.addLayer({ id: 'selection-vt', type: 'line', source: parcels.source, 'source-layer': 'cadastral_parcels',
      filter: ['==', ['get', 'parcel_key'], '\u0000'], paint: { 'line-color': '#d50000', 'line-width': 3 } });
  }
  state.funds.addLayers(map);
}

async function start() {
  const params = urlParams();
  setLang(params.get('lang') || 'vi');
  applyLang(getLang());
  selectTab(params.get('tab') || 'layers');
  setCatalog(await getJSON('/web/catalog.json'));
  state.style = await loadStyle();
  for (const s of state.style.layers)
    if (s['source-layer'] && s.layout?.visibility === 'none') state.hidden.add(s['source-layer']);
  if (params.has('off')) state.hidden = new Set(params.get('off').split(',').filter(Boolean));
  state.funds = new FundSearch({ onOpen: (f) => showFund(f), status, setUrlParams, urlParams, getPoint: () => state.point });
  renderLayers();
  state.funds.fillSelects();

  const map = new maplibregl.Map({
    container: 'map', style: state.style, hash: 'view', attributionControl: { compact: true },
    center: [105.77, 10.03], zoom: 13, maxPitch: 0,
  });
  state.map = map;
  window.sppMap = map; // for the browser tests and for debugging
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
  map.on('click', (e) => {
    if (state.funds.handleClick(map, e)) return;
    landAt(e.lngLat.lng, e.lngLat.lat);
  });
  await new Promise((resolve) => map.once('load', resolve));
  addOverlays(map);
  applyVisibility();
  if (!location.hash.includes('view=')) await fitData(map);
  const at = params.get('at');
  if (at) {
    const [lon, lat] = at.split(',').map(Number);
    if (isFinite(lon) && isFinite(lat)) await landAt(lon, lat);
  }
  if (state.funds.fromUrl()) await state.funds.search(false);
  document.body.dataset.ready = '1';
}

function showFund(feature) {
  state.info = feature;
  showPanel();
  renderInfo();
  if (feature.geometry) fitGeometry(feature.geometry);
}

function wire() {
  for (const b of document.querySelectorAll('[role=tab]')) {
    b.addEventListener('click', () => selectTab(b.dataset.tab));
    b.addEventListener('keydown', (e) => {
      const tabs = [...document.querySelectorAll('[role=tab]')];
      const i = tabs.indexOf(b);
      if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
        const n = tabs[(i + (e.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
        selectTab(n.dataset.tab, true);
      }
    });
  }
  $('lang').addEventListener('click', () => applyLang(getLang() === 'vi' ? 'en' : 'vi'));
  $('parcel-form').addEventListener('submit', searchParcel);
  $('xy-form').addEventListener('submit', searchXY);
  $('xy-paste').addEventListener('input', (e) => {
    const xy = parseXY(e.target.value);
    if (xy) {
      $('xy-x').value = xy.x;
      $('xy-y').value = xy.y;
    }
  });
  $('at-center').addEventListener('click', () => {
    const c = state.map.getCenter();
    landAt(c.lng, c.lat);
  });
  $('info-close').addEventListener('click', () => {
    $('info').hidden = true;
    state.info = null;
    highlight(null, null);
    state.marker?.remove();
    setUrlParams({ at: null, parcel: null });
    state.map?.resize();
  });
  $('info-print').addEventListener('click', printSheet);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !$('info').hidden) $('info-close').click();
  });
}

wire();
start().catch((e) => status(t('error', { msg: e.message }), true));
export { state, fmtNumber };
