// SPDX-License-Identifier: MIT
// browsers.mjs: MapLibre GL JS, Leaflet and OpenLayers (from node_modules, pinned in
// package-lock.json) in Debian's chromium, driven by playwright-core, loading spp's tiles: raster
// XYZ and vector (MVT with spp's MapLibre style for MapLibre, ol/format/MVT for OpenLayers;
// Leaflet has no vector tiles without a plugin, so it shows the raster tiles and WMS). Each view
// holds the data and empty tiles around it. The pages are served from a test-only route on spp's
// own origin (playwright answers /__interop/... from tests/interop/pages and node_modules; spp
// itself never sees those requests). Prints one JSON line per page: tile counts by status, tile
// errors reported by the library, console errors, failed requests, and a screenshot path.
//
//   node tests/interop/browsers.mjs --base http://127.0.0.1:PORT --out DIR --view lon,lat,zoom
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
};
const BASE = arg('--base');
const OUT = arg('--out', path.join(ROOT, 'tests/out'));
const VIEW = arg('--view');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const FILES = {
  'vendor/maplibre-gl.css': 'node_modules/maplibre-gl/dist/maplibre-gl.css',
  'vendor/leaflet.js': 'node_modules/leaflet/dist/leaflet.js',
  'vendor/leaflet.css': 'node_modules/leaflet/dist/leaflet.css',
  'vendor/ol.js': 'node_modules/ol/dist/ol.js',
  'vendor/ol.css': 'node_modules/ol/ol.css',
  'page.html': 'tests/interop/pages/page.html',
  'page.js': 'tests/interop/pages/page.js',
};
const TYPES = { js: 'text/javascript', mjs: 'text/javascript', css: 'text/css', html: 'text/html' };
// MapLibre GL JS 6 ships ES modules (maplibre-gl.mjs and the chunks it imports)
const fileOf = (rel) => FILES[rel] ||
  (/^vendor\/maplibre-gl[a-z-]*\.mjs$/.test(rel) ? `node_modules/maplibre-gl/dist/${rel.slice(7)}` : null);

const PAGES = [
  ['maplibre', 'raster'], ['maplibre', 'vector'], ['maplibre', 'mvt'],
  ['leaflet', 'raster'], ['leaflet', 'wms'],
  ['ol', 'raster'], ['ol', 'vector'],
];

async function runPage(ctx, lib, kind) {
  const page = await ctx.newPage();
  const errors = [];
  const tiles = {};
  const empty = { mvt: 0 };
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => {
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') errors.push(`requestfailed: ${r.url()}`);
  });
  page.on('response', (r) => {
    const u = r.url();
    if (u.includes('/tiles/') || u.includes('/wms?')) {
      const k = String(r.status());
      tiles[k] = (tiles[k] || 0) + 1;
      if (u.endsWith('.mvt') && r.status() === 200) {
        r.body().then((b) => { if (b.length === 0) empty.mvt++; }, () => {});
      }
    }
    if (r.status() >= 400) errors.push(`http ${r.status()}: ${u}`);
  });
  const url = `${BASE}/__interop/page.html?lib=${lib}&kind=${kind}&view=${VIEW}`;
  await page.goto(url);
  await page.waitForFunction(() => window.interop && window.interop.done, null, { timeout: 60000 });
  const state = await page.evaluate(() => window.interop);
  const shot = path.join(OUT, `interop-${lib}-${kind}.png`);
  await page.locator('#map').screenshot({ path: shot });
  await page.close();
  return { lib, kind, tiles, emptyMvt: empty.mvt, libErrors: state.errors, loaded: state.loaded,
    errors, shot };
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const ctx = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(OUT, 'prof-')), {
    executablePath: CHROMIUM, headless: true, viewport: { width: 900, height: 600 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--enable-unsafe-swiftshader'],
  });
  // the test-only static route, on spp's origin: answered here, never by spp
  await ctx.route(`${BASE}/__interop/**`, (route) => {
    const rel = new URL(route.request().url()).pathname.replace(/^\/__interop\//, '');
    const file = fileOf(rel);
    if (!file) return route.fulfill({ status: 404, body: 'not found' });
    return route.fulfill({ status: 200, contentType: TYPES[rel.split('.').pop()],
      body: fs.readFileSync(path.join(ROOT, file)) });
  });
  try {
    for (const [lib, kind] of PAGES) {
      try {
        console.log(JSON.stringify(await runPage(ctx, lib, kind)));
      } catch (e) {
        console.log(JSON.stringify({ lib, kind, fatal: String(e) }));
      }
    }
  } finally {
    await ctx.close();
  }
}

await main();
