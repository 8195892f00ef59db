// SPDX-License-Identifier: MIT
// page.js: one map of spp's tiles with the library and kind named in the query string
// (?lib=maplibre|leaflet|ol&kind=raster|vector|wms&view=lon,lat,zoom). Reports through
// window.interop: done (the library's own "everything drawn" event), loaded (tiles the library
// says it loaded) and errors (the library's tile/load errors).
(function () {
  const q = new URLSearchParams(location.search);
  const lib = q.get('lib');
  const kind = q.get('kind');
  const [lon, lat, zoom] = q.get('view').split(',').map(Number);
  const origin = location.origin;
  const layer = 'cadastral_parcels';
  const state = { done: false, loaded: 0, errors: [] };
  window.interop = state;
  const finish = () => { state.done = true; };
  setTimeout(() => { state.errors.push('timeout: no idle/load event in 45 s'); finish(); }, 45000);

  function load(files, then) {
    let n = files.length;
    for (const f of files) {
      const el = f.endsWith('.css') ? document.createElement('link') : document.createElement('script');
      if (f.endsWith('.css')) { el.rel = 'stylesheet'; el.href = f; } else { el.src = f; }
      el.onload = () => { if (--n === 0) then(); };
      el.onerror = () => state.errors.push(`cannot load ${f}`);
      document.head.appendChild(el);
    }
  }

  const xyz = `${origin}/tiles/${layer}/{z}/{x}/{y}`;

  function maplibre() {
    // vector: spp's generated style (its TileJSON bounds keep MapLibre to the data's tiles);
    // mvt: the tile URL without bounds, as a hand-written style has it (empty tiles asked too)
    const style = kind === 'vector' ? `${origin}/styles/${layer}.json` : kind === 'mvt' ? {
      version: 8,
      sources: { spp: { type: 'vector', tiles: [`${xyz}.mvt`], minzoom: 15, maxzoom: 20 } },
      layers: [{ id: 'p', type: 'fill', source: 'spp', 'source-layer': layer,
        paint: { 'fill-color': '#c85000', 'fill-opacity': 0.5, 'fill-outline-color': '#6e6e6e' } }],
    } : {
      version: 8,
      sources: { spp: { type: 'raster', tiles: [`${xyz}.png`], tileSize: 256 } },
      layers: [{ id: 'spp', type: 'raster', source: 'spp' }],
    };
    // MapLibre's zoom counts 512 px tiles: zoom - 1 shows what Leaflet and OpenLayers show
    const map = new window.maplibregl.Map({ container: 'map', style, center: [lon, lat], zoom: zoom - 1,
      fadeDuration: 0, attributionControl: false });
    map.on('error', (e) => state.errors.push(`maplibre: ${e.error ? e.error.message : e}`));
    map.on('sourcedata', (e) => { if (e.tile && e.sourceId !== undefined) state.loaded++; });
    map.once('idle', finish);
  }

  function leaflet() {
    // eslint-disable-next-line no-undef
    const map = L.map('map', { fadeAnimation: false, zoomAnimation: false }).setView([lat, lon], zoom);
    const opts = { maxZoom: 22, tileSize: 256 };
    // eslint-disable-next-line no-undef
    const tl = kind === 'wms'
      ? L.tileLayer.wms(`${origin}/wms`, { layers: layer, format: 'image/png', transparent: true,
        version: '1.3.0', maxZoom: 22 })
      : L.tileLayer(`${xyz}.png`, opts);
    tl.on('tileload', () => state.loaded++);
    tl.on('tileerror', (e) => state.errors.push(`leaflet tileerror ${e.coords.z}/${e.coords.x}/${e.coords.y}`));
    tl.on('load', finish);
    tl.addTo(map);
  }

  function ol() {
    /* global ol: false */
    const O = window.ol;
    let source;
    let lyr;
    if (kind === 'vector') {
      source = new O.source.VectorTile({ format: new O.format.MVT(), url: `${xyz}.mvt`, maxZoom: 20 });
      // OpenLayers' default polygon fill is translucent white: invisible on the white page
      const style = new O.style.Style({ fill: new O.style.Fill({ color: 'rgba(200, 80, 0, 0.5)' }),
        stroke: new O.style.Stroke({ color: '#6e6e6e', width: 1 }) });
      lyr = new O.layer.VectorTile({ source, style });
    } else {
      source = new O.source.XYZ({ url: `${xyz}.png`, maxZoom: 22 });
      lyr = new O.layer.Tile({ source });
    }
    source.on('tileloadend', () => state.loaded++);
    source.on('tileloaderror', (e) => state.errors.push(`ol tileloaderror ${e.tile.getTileCoord().join('/')}`));
    const map = new O.Map({ target: 'map', layers: [lyr], controls: [],
      view: new O.View({ center: O.proj.fromLonLat([lon, lat]), zoom }) });
    map.once('rendercomplete', finish);
  }

  const v = '/__interop/vendor/';
  if (lib === 'maplibre') {
    load([`${v}maplibre-gl.css`], () => import(`${v}maplibre-gl.mjs`).then((m) => {
      window.maplibregl = m;
      maplibre();
    }, (e) => state.errors.push(`cannot import maplibre-gl.mjs: ${e}`)));
  }
  else if (lib === 'leaflet') load([`${v}leaflet.css`, `${v}leaflet.js`], leaflet);
  else if (lib === 'ol') load([`${v}ol.css`, `${v}ol.js`], ol);
  else state.errors.push(`unknown lib ${lib}`);
}());
