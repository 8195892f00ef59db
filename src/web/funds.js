// SPDX-License-Identifier: MIT
// funds.js: the investor search over /api/v1/land-funds: filters from the form (and the URL, so
// a search is a link), results as a list and as map features kept in step (hovering one lights
// the other, a click zooms), the total count, paging and the CSV of every match.
import { t, getLang } from './i18n.js';
import { el, clear, getJSON, cat, codeName, fmtValue, label, errorText } from './dom.js';
import { parseNumber, formatNumber } from './numbers.js';

const PAGE = 20;
const FILTERS = ['kind', 'commune', 'function', 'min_area', 'max_area', 'status', 'within_m', 'sort'];
const $ = (id) => document.getElementById(id);

export class FundSearch {
  constructor(host) {
    this.host = host;      // {onOpen, status, setUrlParams, urlParams, getPoint}
    this.params = null;    // URLSearchParams of the filters (no paging)
    this.offset = 0;
    this.total = 0;
    this.features = [];
    this.hover = null;
    this.map = null;
    const form = $('funds-form');
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.offset = 0;
      this.search(true);
    });
    form.addEventListener('reset', () => setTimeout(() => this.clear(), 0));
    $('funds-prev').addEventListener('click', () => this.page(-1));
    $('funds-next').addEventListener('click', () => this.page(1));
    $('funds-share').addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(location.href);
        this.host.status(t('funds.copied'));
      } catch {
        this.host.status(location.href);
      }
    });
  }

  // Options of the function and status lists from the catalog's code lists.
  fillSelects() {
    const fill = (select, lists) => {
      const keep = select.value;
      while (select.options.length > 1) select.remove(1);
      const seen = new Set();
      for (const id of lists) {
        const cl = cat.codelists.get(id);
        if (!cl) continue;
        for (const code of cl.byCode.keys()) {
          if (seen.has(code)) continue;
          seen.add(code);
          select.add(new Option(`${codeName(id, code)} (${code})`, code));
        }
      }
      select.value = keep;
    };
    fill($('f-function'), ['zoning_function']);
    fill($('f-status'), ['fund_status', 'investment_status']);
  }

  // Reads the filters from the URL into the form; true if the URL holds a search.
  fromUrl() {
    const p = this.host.urlParams();
    if (p.get('funds') !== '1') return false;
    const form = $('funds-form');
    for (const k of FILTERS) {
      if (!p.has(k) || !form.elements[k]) continue;
      const v = p.get(k);
      // numbers in the link are plain; the form shows them in the user's form
      form.elements[k].value = /^(min_area|max_area|within_m)$/.test(k) && /^\d+(\.\d+)?$/.test(v) ? formatNumber(Number(v), getLang(), 2) : v;
    }
    if (p.has('near')) {
      form.elements.use_near.checked = true;
      const [lon, lat] = p.get('near').split(',').map(Number);
      this.near = { lon, lat };
    }
    this.offset = Math.max(0, parseInt(p.get('offset') || '0', 10) || 0);
    return true;
  }

  formParams() {
    const form = $('funds-form');
    const p = new URLSearchParams();
    for (const k of FILTERS) {
      let v = (form.elements[k].value || '').trim();
      if (v && (k === 'min_area' || k === 'max_area' || k === 'within_m')) {
        // "40.000" (vi) is forty thousand; the API takes plain numbers; the field shows it back
        // in the user's form
        const n = parseNumber(v, getLang());
        const input = form.elements[k];
        input.setAttribute('aria-invalid', Number.isNaN(n) ? 'true' : 'false');
        if (Number.isNaN(n)) {
          input.focus();
          throw new Error(t('err.area', { v }));
        }
        input.value = formatNumber(n, getLang(), 2);
        v = String(n);
      }
      if (v && !(k === 'within_m' && !form.elements.use_near.checked)) p.set(k, v);
    }
    if (form.elements.use_near.checked) {
      const pt = this.host.getPoint() || this.near;
      if (!pt) throw new Error(t('funds.nopoint'));
      p.set('near', `${pt.lon.toFixed(6)},${pt.lat.toFixed(6)}`);
    }
    return p;
  }

  async search(fromForm) {
    let p;
    try {
      p = this.formParams();
    } catch (e) {
      this.host.status(e.message, true);
      clear($('funds-summary')).append(el('p', { class: 'error', role: 'alert' }, e.message));
      return;
    }
    this.params = p;
    const q = new URLSearchParams(p);
    q.set('limit', String(PAGE));
    q.set('offset', String(this.offset));
    q.set('f', 'geojson');
    const update = { funds: '1', offset: this.offset || null, near: p.get('near') };
    for (const k of FILTERS) update[k] = p.get(k);
    this.host.setUrlParams(update);
    try {
      const d = await getJSON(`/api/v1/land-funds?${q}`);
      this.features = (d.features || d.items || d.results || []).map((f, i) => ({ ...f, id: i }));
      this.total = d.numberMatched ?? d.total ?? d.count ?? this.features.length;
      this.render();
      this.showOnMap(fromForm);
    } catch (e) {
      this.features = [];
      this.total = 0;
      this.render();
      clear($('funds-summary')).append(el('p', { class: 'error', role: 'alert' }, errorText(e)));
    }
  }

  page(dir) {
    this.offset = Math.max(0, this.offset + dir * PAGE);
    this.search(true);
  }

  clear() {
    this.params = null;
    this.features = [];
    this.total = 0;
    this.offset = 0;
    const update = { funds: null, offset: null, near: null };
    for (const k of FILTERS) update[k] = null;
    this.host.setUrlParams(update);
    this.render();
    this.showOnMap(false);
  }

  title(p) {
    return p.name || p.address || p.fund_id || p.project_id || p.id || '';
  }

  render() {
    const list = clear($('funds-list'));
    const summary = clear($('funds-summary'));
    const csv = $('funds-csv');
    $('funds-share').hidden = !this.params;
    if (!this.params) {
      csv.hidden = true;
      $('funds-page').textContent = '';
      $('funds-prev').disabled = $('funds-next').disabled = true;
      return;
    }
    summary.append(el('p', { class: 'total', dataset: { total: this.total } }, t('funds.total', { n: this.total })));
    this.features.forEach((f, i) => {
      const p = f.properties || f;
      const layer = p.layer || (p.kind === 'investment' ? 'investment_land' : p.kind === 'vacant' ? 'vacant_land_fund' : null);
      const fn = p.planned_function ?? p.function;
      const facts = [
        p.area_m2 != null ? fmtValue('area_m2', p.area_m2, layer) : null,
        fn ? `${label('planned_function', 'vacant_land_fund')}: ${codeName('zoning_function', fn) || fn}` : null,
        p.status ? (codeName('fund_status', p.status) || codeName('investment_status', p.status) || p.status) : null,
        p.distance_m != null ? `${fmtValue('distance_m', p.distance_m)}` : null,
      ].filter(Boolean).join(' · ');
      const item = el('li', { class: 'fund', dataset: { i } },
        el('button', { type: 'button', class: 'result', onclick: () => this.open(i), onfocus: () => this.setHover(i),
          onmouseenter: () => this.setHover(i), onmouseleave: () => this.setHover(null) },
        el('strong', {}, this.title(p)),
        el('span', { class: 'kind' }, p.kind ? t(`funds.kind.${p.kind === 'investment' ? 'investment_land' : 'vacant_land_fund'}`) : ''),
        el('span', { class: 'facts' }, facts)));
      list.append(item);
    });
    const a = this.total ? this.offset + 1 : 0;
    const b = Math.min(this.offset + this.features.length, this.total);
    $('funds-page').textContent = t('funds.showing', { a, b, n: this.total });
    $('funds-prev').disabled = this.offset === 0;
    $('funds-next').disabled = this.offset + PAGE >= this.total;
    const q = new URLSearchParams(this.params);
    q.set('f', 'csv');
    q.set('lang', getLang()); // column titles in the page's language
    q.set('limit', String(Math.max(1, this.total)));
    csv.href = `/api/v1/land-funds?${q}`;
    csv.hidden = this.total === 0;
  }

  addLayers(map) {
    this.map = map;
    map.addSource('funds', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
    map.addLayer({ id: 'funds-fill', type: 'fill', source: 'funds', paint: {
      'fill-color': ['case', ['boolean', ['feature-state', 'hover'], false], '#ff6f00', '#1565c0'],
      'fill-opacity': ['case', ['boolean', ['feature-state', 'hover'], false], 0.6, 0.3] } });
    map.addLayer({ id: 'funds-line', type: 'line', source: 'funds', paint: { 'line-color': '#0d47a1', 'line-width': 2 } });
    map.on('mousemove', 'funds-fill', (e) => {
      map.getCanvas().style.cursor = 'pointer';
      if (e.features?.length) this.setHover(e.features[0].id);
    });
    map.on('mouseleave', 'funds-fill', () => {
      map.getCanvas().style.cursor = '';
      this.setHover(null);
    });
  }

  // A click on a result on the map opens it; true when it did.
  handleClick(map, e) {
    if (!map.getLayer('funds-fill')) return false;
    const hit = map.queryRenderedFeatures(e.point, { layers: ['funds-fill'] });
    if (!hit.length) return false;
    this.open(hit[0].id);
    return true;
  }

  setHover(i) {
    if (this.hover === i) return;
    if (this.map && this.hover !== null) this.map.setFeatureState({ source: 'funds', id: this.hover }, { hover: false });
    this.hover = i;
    if (this.map && i !== null) this.map.setFeatureState({ source: 'funds', id: i }, { hover: true });
    for (const li of document.querySelectorAll('#funds-list li'))
      li.classList.toggle('hover', String(i) === li.dataset.i);
  }

  open(i) {
    const f = this.features[i];
    if (!f) return;
    this.setHover(i);
    this.host.onOpen(f);
  }

  showOnMap(fit) {
    if (!this.map) return;
    const feats = this.features.filter((f) => f.geometry);
    this.map.getSource('funds').setData({ type: 'FeatureCollection', features: feats });
    if (fit && feats.length) {
      let b = [Infinity, Infinity, -Infinity, -Infinity];
      const walk = (c) => {
        if (typeof c[0] === 'number') b = [Math.min(b[0], c[0]), Math.min(b[1], c[1]), Math.max(b[2], c[0]), Math.max(b[3], c[1])];
        else c.forEach(walk);
      };
      feats.forEach((f) => walk(f.geometry.coordinates));
      this.map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 40, maxZoom: 17, duration: 0 });
    }
  }
}
