#!/bin/bash
# SPDX-License-Identifier: MIT
# scale.sh: the scale row of `make bench ONLY=scale` (opt-in: the 2M-parcel city takes long to
# generate and import). The same requests on the generated city at SCALES (default "1 10": 200k
# and 2M parcels; gen_city.py grows the city outward, a cell's content does not depend on the
# scale, so the request lists hit the same features at every scale): land/at (200 points, wrk),
# WMS GetMap (the 200 tiles, wrk) and cold MVT tiles (the 200 tiles once, 1 client), p50/p99 per
# scale, and spp's peak resident memory (VmHWM) and the store's size. Records scale<S>.* series
# into $RESULTS/results.tsv (report.py prints the "Scale" table with the growth from the first
# scale to the last beside log n growth).
# Run by bench.sh (it sets RESULTS, SPP_BIN, OUT, ...), or alone with those in the environment.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SB="$(cd "${PEERS:-$HERE/peers}" && pwd)"
# shellcheck source=/dev/null
. "$SB/lib.sh"
SCALES="${SCALES:-1 10}"
SPP_BIN="${SPP_BIN:-$REPO/build/release/spp}"
SPP_THREADS="${SPP_THREADS:-$MS_WORKERS}"
export SPP_HOME="$REPO"
DIR="$OUT/scale"
mkdir -p "$DIR" "$RESULTS/raw"
pid="" url=""
stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"; for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  fi
  pid=""
}
trap stop EXIT
start() {  # start STORE: a fresh copy (no tile cache), spp on a free port
  rm -rf "$DIR/live"; mkdir -p "$DIR/live"; cp "$1" "$DIR/live/city.sqlite"
  local port; port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$SPP_BIN" serve --db "$DIR/live/city.sqlite" --listen "127.0.0.1:$port" --threads "$SPP_THREADS" \
    --quiet >> "$LOGS/scale.log" 2>&1 &
  pid=$! url="http://127.0.0.1:$port"
  for _ in $(seq 100); do curl -fsS -o /dev/null "$url/healthz" 2>/dev/null && return 0; sleep 0.1; done
  log "scale: spp did not start"; return 1
}
TILES="$SB/requests/tiles_z15-17.txt"
WMS='/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=cadastral_parcels,hydro_lines,buildings,roads&STYLES=&CRS=EPSG:3857&BBOX={bbox}&WIDTH=256&HEIGHT=256&FORMAT=image/png'
MVT='/tiles/cadastral_parcels,roads,buildings/{1}/{2}/{3}.mvt'
for s in $SCALES; do
  city="$DIR/city_$s.sqlite" src="$DIR/src_$s" store="$DIR/spp_$s.sqlite"
  if [ "$s" = 1 ] && [ -f "$DB" ]; then city="$DB"; fi
  if [ ! -f "$city" ]; then
    log "scale $s: generating the city -> $city (2M parcels take a long while)"
    nice $PY "$SB/gen_city.py" --scale "$s" --out "$city" >> "$LOGS/scale.log" 2>&1
  fi
  if [ ! -f "$src/city_manifest.json" ]; then
    rm -rf "$src"; mkdir -p "$src"
    for l in parcels zoning roads canals buildings vacant_land; do
      what=("$l")
      # A grown city has wards of more than 999 map sheets, which a parcel key (commune 5 +
      # sheet 3 + parcel 4 digits) cannot hold: there each ward's sheets are split into blocks of
      # 999, each block a synthetic commune code 99000 + 4 x ward rank + block (the scale-1 city
      # keeps its names and the manifest's codes 99001-99044)
      if [ "$s" != 1 ] && [ "$l" = parcels ]; then
        what=(-dialect SQLite -nln parcels -sql "SELECT parcel_id, (map_sheet - 1) % 999 + 1 AS map_sheet, parcel_no, area_m2, land_use, owner_name, CAST(99000 + 4 * (dense_rank() OVER (ORDER BY ward)) + (map_sheet - 1) / 999 AS TEXT) AS ward, geom FROM parcels")
      fi
      ogr2ogr -f "ESRI Shapefile" "$src/$l.shp" "$city" "${what[@]}" -lco ENCODING=UTF-8 -lco SPATIAL_INDEX=NO 2>> "$LOGS/scale.log"
    done
    if [ "$s" != 1 ]; then  # the commune codes are in the file: no name -> code map
      jq '(.sources[] | select(.layer == "cadastral_parcels") | .values) |= del(.commune_code)' \
        "$HERE/city_manifest.json" > "$src/city_manifest.json"
    else
      cp "$HERE/city_manifest.json" "$src/city_manifest.json"
    fi
  fi
  stamp=$(cat "$src/city_manifest.json" "$SPP_BIN" | sha256sum | cut -c1-16)
  if [ "$(cat "$store.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -f "$store" "$store"-*; t0=$(date +%s.%N); rc=0
    "$SPP_BIN" import --db "$store" --manifest "$src/city_manifest.json" >> "$LOGS/scale.log" 2>&1 || rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 3 ] || { log "scale $s: spp import failed (see $LOGS/scale.log)"; exit 1; }
    echo "$(date +%s.%N) $t0" | awk '{printf "%.1f\n", $1 - $2}' > "$store.time"; echo "$stamp" > "$store.stamp"
  fi
  n=$(sqlite3 "$store" "SELECT count(*) FROM cadastral_parcels")
  start "$store"
  $PY "$HERE/coldtiles.py" "$url" "$TILES" "$MVT" application/vnd.mapbox-vector-tile --conc 1 \
    > "$RESULTS/raw/scale$s.mvt_cold.json"
  "$SB/measure/wrk_list.sh" "scale$s.land_at" "$HERE/requests/land_at_200.txt" \
    '/api/v1/land/at?lon={1}&lat={2}' application/ "$url"
  "$SB/measure/wrk_list.sh" "scale$s.wms" "$TILES" "$WMS" image/png "$url"
  hwm=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
  j="$RESULTS/raw/scale$s.mvt_cold.json"
  note="scale $s: $n parcels, store $(( $(stat -c %s "$store") / 1048576 )) MiB, imported in $(cat "$store.time") s; spp peak RSS ${hwm} MiB after the runs"
  record "scale$s.mvt_cold.p50" "$(jq .p50_ms "$j")" ms "$(jq .p50_ms "$j")" "$note; cold MVT, 200 tiles once, 1 client" "$(loadavg)"
  record "scale$s.mvt_cold.p99" "$(jq .p99_ms "$j")" ms "$(jq .p99_ms "$j")" "$note; cold MVT, 200 tiles once, 1 client" "$(loadavg)"
  record "scale$s.parcels" "$n" parcels "$n" "$note" "$(loadavg)"
  record "scale$s.rss_mib" "$hwm" MiB "$hwm" "$note" "$(loadavg)"
  record "scale$s.store_mib" "$(( $(stat -c %s "$store") / 1048576 ))" MiB "$(( $(stat -c %s "$store") / 1048576 ))" "$note" "$(loadavg)"
  stop
done
