#!/bin/bash
# SPDX-License-Identifier: MIT
# bench.sh: `make bench`. spp measured beside its peers (MapServer 8 and QGIS Server 3.22 FastCGI
# behind nginx, Mapnik, PostGIS ST_AsMVT, nginx static files, ogr2ogr) on the 200k-parcel bench
# city, in one run, with the same request lists. The peer side is the harness in tests/bench/peers (kept as it was handed over; PEERS
# points at another copy): it makes
# the city, starts/stops the peers, runs wrk over a request list and records one TSV row per
# figure. This script adds the spp side: it imports the city with `spp import` (manifest
# tests/bench/city_manifest.json), starts `spp serve` (release build), measures each row on both
# sides, skips an spp row with a "not available" line when its route answers 404, stops everything
# it started (trap), and prints one table (tests/bench/report.py): markdown + JSON.
#
# Environment: ONLY (rows, default all: wms wfs ogcapi mvt heavy png static land landfund import;
# opt-in: scale, pg),
# RUNS (3), DURATION (8s), THREADS (2), CONNS (16), QUIET_WAIT (15), SPP_THREADS (2), SCALE (1),
# COLD_MAX (30: seconds per cold tile pass), OUT (/tmp/spp-bench), PEERS (tests/bench/peers), SPP_BIN (build/release/spp),
# SPP_STORE (serve this store instead of importing the city).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$REPO/tests/bench"
PEERS="${PEERS:-$HERE/peers}"
if [ ! -f "$PEERS/lib.sh" ]; then
  echo "bench: no peer harness at $PEERS (set PEERS=/path/to/harness)" >&2
  exit 1
fi
SB="$(cd "$PEERS" && pwd)"
export OUT="${OUT:-/tmp/spp-bench}" RUNS="${RUNS:-3}" DURATION="${DURATION:-8s}"
export THREADS="${THREADS:-2}" CONNS="${CONNS:-16}" QUIET_WAIT="${QUIET_WAIT:-15}"
# shellcheck source=/dev/null
. "$SB/lib.sh"   # BENCH RUN LOGS DB PY, log record median wait_quiet loadavg
set -euo pipefail
SPP_BIN="$(realpath "${SPP_BIN:-$REPO/build/release/spp}")"
SPP_THREADS="${SPP_THREADS:-$MS_WORKERS}"
COLD_MAX="${COLD_MAX:-30}"   # seconds: a cold tile pass stops sending after that (bounds the run time)
export SPP_HOME="$REPO"   # the catalog (layers/) and styles/ of this checkout
ALL="wms wfs ogcapi mvt heavy png static land landfund import"
OPT_IN="scale pg"   # scale: the generated 2M-parcel city (tests/bench/scale.sh); pg: spp on PostGIS
                    # with 1 and 2 replicas behind nginx (issue 24). Long: only when asked
ONLY="${ONLY:-$ALL}"
for w in $ONLY; do
  [[ " $ALL $OPT_IN " == *" $w "* ]] || { echo "bench: unknown row \"$w\" in ONLY (rows: $ALL; opt-in: $OPT_IN)" >&2; exit 2; }
done
want() { [[ " $ONLY " == *" $1 "* ]]; }
[ -x "$SPP_BIN" ] || { echo "bench: no spp binary at $SPP_BIN (make bench builds it)" >&2; exit 1; }

stamp=$(date +%Y%m%dT%H%M%S)
export RESULTS="$OUT/results/$stamp-spp"
mkdir -p "$RESULTS/raw" "$RESULTS/samples" "$OUT/spp"
ln -sfn "$stamp-spp" "$OUT/results/latest-spp"
SKIPS="$RESULTS/skips.tsv" NOTES="$RESULTS/notes.tsv"
: > "$SKIPS"; : > "$NOTES"; echo "$ONLY" > "$RESULTS/rows.txt"
skip() { printf '%s\t%s\n' "$1" "$2" >> "$SKIPS"; log "SKIP $1: $2"; }
note() { printf '%s\t%s\n' "$1" "$2" >> "$NOTES"; log "note $1: $2"; }
t_start=$(date +%s)

# ---- everything we start is stopped on exit, by pid ---------------------------------------
SPP_PID="" started=()
stop_spp() {
  if [ -n "$SPP_PID" ] && kill -0 "$SPP_PID" 2>/dev/null; then
    kill -TERM "$SPP_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SPP_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SPP_PID" 2>/dev/null && kill -KILL "$SPP_PID" 2>/dev/null || true
    wait "$SPP_PID" 2>/dev/null || true
  fi
  SPP_PID=""
}
cleanup() {
  stop_spp
  if declare -F stop_pg_row > /dev/null; then stop_pg_row; fi
  for w in "${started[@]}"; do "$SB/peers.sh" stop "$w" || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- data: the city, the static file, the city as shapefiles --------------------------------
if [ ! -f "$DB" ]; then
  log "generating the bench city (scale ${SCALE:-1}) -> $DB"
  nice $PY "$SB/gen_city.py" --scale "${SCALE:-1}" --out "$DB" > "$LOGS/gen_city.log"
fi
[ -f "$OUT/static/tile20k.png" ] || $PY "$SB/make_static_png.py" "$OUT/static/tile20k.png" > /dev/null
SRC="$OUT/src/spp"
src_stamp=$(cat "$DB.manifest.json" "$HERE/city_manifest.json" | sha256sum | cut -c1-16)
if [ "$(cat "$SRC/stamp" 2>/dev/null)" != "$src_stamp" ]; then
  log "exporting the city's six layers to shapefiles in $SRC (what a city hands over)"
  rm -rf "$SRC"; mkdir -p "$SRC"
  for l in parcels zoning roads canals buildings vacant_land; do
    # the same command as $SB/measure/ingest.sh uses for its parcels.shp
    ogr2ogr -f "ESRI Shapefile" "$SRC/$l.shp" "$DB" "$l" -lco ENCODING=UTF-8 -lco SPATIAL_INDEX=NO \
      2>> "$LOGS/export_shp.log"
  done
  cp "$HERE/city_manifest.json" "$SRC/city_manifest.json"
  jq '.batch = "bench-parcels" | .sources |= map(select(.layer == "cadastral_parcels"))' \
    "$HERE/city_manifest.json" > "$SRC/parcels_manifest.json"
  echo "$src_stamp" > "$SRC/stamp"
fi

# ---- environment -------------------------------------------------------------------------
spp_rev=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
{
  echo "date: $(date -Is)   host: $(hostname)"
  echo "machine: nproc=$(nproc), CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), RAM: $(free -g | awk '/Mem:/{print $2}') GiB, $(. /etc/os-release; echo "$PRETTY_NAME")"
  echo "spp: $spp_rev ($SPP_BIN, $(file -b "$SPP_BIN" | cut -d, -f1), threads=$SPP_THREADS), $(cc --version | head -1)"
  echo "peers: $(mapserv -v | cut -d' ' -f1-3), GDAL $(ogr2ogr --version | cut -d' ' -f2 | tr -d ,), $("$PG_BIN/postgres" --version), PostGIS $(dpkg-query -W -f '${Version}' postgresql-15-postgis-3), $(nginx -v 2>&1 | cut -d' ' -f3), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $(hyperfine --version)"
  echo "data: $(jq -c '{scale, seed, counts}' "$DB.manifest.json")"
  echo "settings: ONLY=\"$ONLY\" RUNS=$RUNS DURATION=$DURATION THREADS=$THREADS CONNS=$CONNS MS_WORKERS=$MS_WORKERS SPP_THREADS=$SPP_THREADS QUIET_WAIT=$QUIET_WAIT"
  echo "load at start: $(uptime)"
  echo "peers (issue 22): QGIS Server $(dpkg-query -W -f '${Version}' qgis-server 2>/dev/null || echo '?'), python3-mapnik $(dpkg-query -W -f '${Version}' python3-mapnik 2>/dev/null || echo '?')"
} > "$RESULTS/env.txt"
git -C "$REPO" rev-parse HEAD > "$RESULTS/commit.txt" 2>/dev/null || echo unknown > "$RESULTS/commit.txt"
cat "$RESULTS/env.txt" >&2

# ---- spp: import once (cached by input + binary), serve a copy --------------------------------
STORE0="$OUT/spp/city.sqlite"          # imported once, never served
LIVE="$OUT/spp/live"                     # the served copy (and anything spp writes beside it)
IMPORT_OK=0
has_cmd() { "$SPP_BIN" "$1" --help > /dev/null 2>&1; }
if [ -n "${SPP_STORE:-}" ]; then   # a store built some other way (the import row still runs)
  STORE0="$(realpath "$SPP_STORE")"; IMPORT_OK=1
  note store "served store $STORE0 was given by SPP_STORE, not imported by this run"
elif has_cmd import; then
  imp_stamp=$(cat "$SRC/stamp" "$SPP_BIN" | sha256sum | cut -c1-16)
  if [ "$(cat "$STORE0.stamp" 2>/dev/null)" != "$imp_stamp" ]; then
    log "spp import of the city (6 layers) -> $STORE0"
    rm -f "$STORE0" "$STORE0"-* "$STORE0.stamp"; rm -rf "$OUT/spp/report"
    t0=$(date +%s.%N)
    imp_rc=0  # exit 3: done, with rejected features (see the report)
    "$SPP_BIN" import --db "$STORE0" --manifest "$SRC/city_manifest.json" \
        --report "$OUT/spp/report" > "$LOGS/spp_import.log" 2>&1 || imp_rc=$?
    if [ "$imp_rc" -eq 0 ] || [ "$imp_rc" -eq 3 ]; then
      t1=$(date +%s.%N)
      echo "$imp_stamp" > "$STORE0.stamp"
      echo "$t0 $t1" > "$STORE0.time"
    else
      rm -f "$STORE0"
      log "spp import FAILED: $(tail -3 "$LOGS/spp_import.log")"
    fi
  fi
  if [ -f "$STORE0.stamp" ]; then
    IMPORT_OK=1
    read -r t0 t1 < "$STORE0.time"
    note import_city "spp import of the whole city (6 layers, $(jq '[.counts[]] | add' "$DB.manifest.json") features): $(printf '%.1f' "$(echo "$t1 - $t0" | bc -l)") s (imported $(date -d "@${t1%.*}" -Is), reused while the shapefiles and the binary are unchanged); report in $OUT/spp/report"
  else
    skip all "spp import failed on the bench city (see $LOGS/spp_import.log): no store to serve"
  fi
else
  skip all "not available: spp has no import command (the store cannot be built)"
fi

SPP_URL=""
restore_store() {   # (with its WAL, if the importer left one)
  rm -rf "$LIVE"; mkdir -p "$LIVE"; cp "$STORE0" "$LIVE/city.sqlite"
  if [ -s "$STORE0-wal" ]; then cp "$STORE0-wal" "$LIVE/city.sqlite-wal"; fi
}
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_spp() {
  local port; port=$(free_port)
  "$SPP_BIN" serve --db "$LIVE/city.sqlite" --listen "127.0.0.1:$port" --threads "$SPP_THREADS" \
    --quiet >> "$LOGS/spp_serve.log" 2>&1 &
  SPP_PID=$!
  SPP_URL="http://127.0.0.1:$port"
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "$SPP_URL/healthz" 2>/dev/null && return 0
    kill -0 "$SPP_PID" 2>/dev/null || break
    sleep 0.1
  done
  log "spp serve did not come up: $(tail -3 "$LOGS/spp_serve.log")"; return 1
}
# an empty tile cache: stop spp, put back the freshly imported store, start again
fresh_spp() { stop_spp; restore_store; start_spp; }
if [ "$IMPORT_OK" = 1 ]; then fresh_spp || { skip all "spp serve did not start"; IMPORT_OK=0; }; fi
[ "$IMPORT_OK" = 1 ] && log "spp: pid $SPP_PID on $SPP_URL, store $LIVE/city.sqlite"

# probe NAME PATH CTYPE: 0 when spp answers 200 with CTYPE; otherwise a skip line says why.
probe() {
  local name=$1 path=$2 ctype=$3 code ct
  if [ "$IMPORT_OK" != 1 ]; then skip "$name" "spp not measured (no store, see above)"; return 1; fi
  if ! kill -0 "$SPP_PID" 2>/dev/null; then   # it died during an earlier row: say so, start again
    note "$name" "spp was not running before this row (see $LOGS/spp_serve.log); restarted"
    fresh_spp || { skip "$name" "spp serve did not start again"; return 1; }
  fi
  ct=$(curl -sS -o "$RESULTS/samples/$name.probe" -w '%{http_code} %{content_type}' "$SPP_URL$path") || ct="000 -"
  code=${ct%% *}; ct=${ct#* }
  if [ "$code" = 404 ]; then skip "$name" "not available: GET $path -> 404"; return 1; fi
  if [ "$code" != 200 ] || [[ "$ct" != "$ctype"* ]]; then
    skip "$name" "failed: GET $path -> $code $ct: $(head -c 200 "$RESULTS/samples/$name.probe" | tr '\n\t' '  ')"
    return 1
  fi
  return 0
}
# first request path of a list (as wrk/urls.lua builds it)
first_path() {
  awk -v tpl="$2" '!/^#/ && NF { p = tpl
      if (NF >= 7) gsub(/\{bbox\}/, $4 "," $5 "," $6 "," $7, p)
      if (NF >= 4) gsub(/\{bbox4\}/, $1 "," $2 "," $3 "," $4, p)
      for (i = 1; i <= 9 && i <= NF; i++) { r = $i; gsub(/&/, "\\\\&", r); gsub("\\{" i "\\}", r, p) }
      print p; exit }' "$1"
}
wrk_row() {  # wrk_row NAME LIST TEMPLATE CTYPE BASE [THREADS CONNS]: shared measure/wrk_list.sh
  THREADS=${6:-$THREADS} CONNS=${7:-$CONNS} "$SB/measure/wrk_list.sh" "$1" "$2" "$3" "$4" "$5" ||
    skip "$1" "bad responses during the run (see $RESULTS/raw/$1.run*.txt)"
}
# cold_once NAME TEMPLATE CTYPE CONC PEER_BASE K: run K of a cold pass over the 200 tiles, into
# $RESULTS/raw/NAME.runK.json (and .busy: the CPU busy % before it).
# spp (PEER_BASE empty): an empty cache each pass (fresh store, restart), the bodies kept in
# $OUT/static/spp/NAME/z/x/y.ext for nginx (nginx_same_tiles). A raster peer (PEER_BASE, issue
# 22): it has no tile cache, so every pass is a cold pass; the same client, list, connections and
# cap as spp's, so that both cold figures are measured the same way.
cold_once() {
  local name=$1 tpl=$2 ctype=$3 conc=$4 base=$5 k=$6 url out
  local -a save=()
  if [ -z "$base" ]; then
    fresh_spp || { skip "$name" "spp did not restart"; return 1; }
    url=$SPP_URL save=(--save "$OUT/static/spp/$name")
  else url=$base; fi
  wait_quiet > "$RESULTS/raw/$name.run$k.busy"
  out="$RESULTS/raw/$name.run$k.json"
  $PY "$HERE/coldtiles.py" "$url" "$SB/requests/tiles_z15-17.txt" "$tpl" "$ctype" \
    --conc "$conc" "${save[@]}" --max-seconds "$COLD_MAX" > "$out" 2> "$out.err" ||
    skip "$name" "bad responses in a cold pass: $(jq -r '"\(.bad) of \(.requests), e.g. \(.bad_samples | join("; "))"' "$out" 2>/dev/null || tail -1 "$out.err")"
  jq -e .requests "$out" > /dev/null 2>&1 || { skip "$name" "coldtiles.py failed: $(tail -1 "$out.err")"; return 1; }
  log "$name run $k: $(jq -c '{tiles_per_s,mean_ms,p50_ms,p99_ms,avg_bytes,status}' "$out")"
}
# cold_record NAME CONC PEER_BASE LOAD_BEFORE [HOW]: the medians of NAME's runs
cold_record() {
  local name=$1 conc=$2 base=$3 lb=$4 how=${5:-} k out
  local -a tps=() mean=() p50=() p99=() busy=()
  for k in $(seq "$RUNS"); do
    out="$RESULTS/raw/$name.run$k.json"
    tps+=("$(jq .tiles_per_s "$out")"); mean+=("$(jq .mean_ms "$out")")
    p50+=("$(jq .p50_ms "$out")"); p99+=("$(jq .p99_ms "$out")"); busy+=("$(cat "${out%.json}.busy")")
  done
  local IFS=, n
  if [ -z "$base" ]; then how="after a restart on the freshly imported store (empty tile cache)$how"
  else how="(no tile cache: every pass is cold; the same client and settings as spp's cold pass)$how"; fi
  n="coldtiles.py --conc $conc, 200 tiles once per run $how, at most ${COLD_MAX}s per pass: tiles done per run $(jq -s -r 'map("\(.requests)/\(.planned)") | join(",")' "$RESULTS"/raw/"$name".run*.json); avg body $(jq .avg_bytes "$out") B; statuses $(jq -c .status "$out"); cpu busy% before runs: ${busy[*]}"
  record "$name.tiles_per_s" "$(printf '%s\n' "${tps[@]}" | median)" "tiles/s" "${tps[*]}" "$n" "$lb"
  record "$name.ms_per_tile_mean" "$(printf '%s\n' "${mean[@]}" | median)" "ms" "${mean[*]}" "$n" "$lb"
  record "$name.p50" "$(printf '%s\n' "${p50[@]}" | median)" "ms" "${p50[*]}" "$n" "$lb"
  record "$name.p99" "$(printf '%s\n' "${p99[@]}" | median)" "ms" "${p99[*]}" "$n" "$lb"
}
cold_pass() {  # cold_pass NAME TEMPLATE CTYPE CONC [PEER_BASE]: RUNS passes (cold_once), recorded
  local name=$1 tpl=$2 ctype=$3 conc=$4 base=${5:-} k lb
  [ -z "$base" ] && rm -rf "${OUT:?}/static/spp/$name"   # no bytes of an earlier run
  lb=$(loadavg)
  for k in $(seq "$RUNS"); do
    cold_once "$name" "$tpl" "$ctype" "$conc" "$base" "$k" || return 1
  done
  cold_record "$name" "$conc" "$base" "$lb"
}
measured() { grep -q "^$1\." "$RESULTS/results.tsv" 2>/dev/null; }
# fill_cache COLD_NAME TEMPLATE CTYPE: every tile of the list in spp's cache (and its bytes saved
# for nginx), also those a time-capped cold pass did not reach; cached tiles answer at once
fill_cache() {
  $PY "$HERE/coldtiles.py" "$SPP_URL" "$TILES" "$2" "$3" --conc 2 --save "$OUT/static/spp/$1" \
    > "$RESULTS/raw/$1.fill.json" 2>&1 || log "fill_cache $1: $(head -c 300 "$RESULTS/raw/$1.fill.json")"
}
# nginx_same_tiles NAME COLD_NAME EXT CTYPE: nginx serves the bytes spp answered in the cold pass as
# static files, over the same list: the "static file of the same size" of the cached-tile rows
nginx_same_tiles() {
  [ -d "$OUT/static/spp/$2" ] || { skip "$1" "no tiles saved by $2"; return 0; }
  wrk_row "$1" "$TILES" "/static/spp/$2/{1}/{2}/{3}.$3" "$4" "$BASE_URL"
}

# ---- peers (only what the chosen rows need; stop only what we start) --------------------------
if want wms || want wfs || want ogcapi || want png || want static || want mvt; then
  if ! { [ -s "$RUN/nginx.pid" ] && kill -0 "$(cat "$RUN/nginx.pid")" 2>/dev/null; }; then
    "$SB/peers.sh" start mapserver; started+=(mapserver)
  fi
fi
if want wms || want png; then   # the other raster peers (issue 22), behind the same nginx
  for p in qgis mapnik; do
    if ! { [ -s "$RUN/$p.pid" ] && kill -0 "$(head -1 "$RUN/$p.pid")" 2>/dev/null; }; then
      "$SB/peers.sh" start "$p" && started+=("$p") || skip "wms_getmap_png.$p" "failed: peers.sh start $p (see $LOGS/$p.log)"
    fi
  done
fi
if want mvt || want heavy; then
  if ! runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" status > /dev/null 2>&1; then
    if "$SB/peers.sh" start pg; then started+=(pg)
    elif want mvt; then exit 1   # the mvt row has no figure without its peer
    fi
  fi
  if runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" status > /dev/null 2>&1; then "$SB/pg/setup.sh"; fi
fi
[ ${#started[@]} -gt 0 ] && "$SB/measure/verify.sh"

# ---- request templates: the same list and the same content on both sides ----------------------
TILES="$SB/requests/tiles_z15-17.txt" WFSL="$SB/requests/wfs_bbox_500.txt"
MS_WMS='/ms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=parcels,canals,buildings,roads&STYLES=&CRS=EPSG:3857&BBOX={bbox}&WIDTH=256&HEIGHT=256&FORMAT=image/png'
QGIS_WMS='/qgis?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=parcels,canals,buildings,roads&STYLES=&CRS=EPSG:3857&BBOX={bbox}&WIDTH=256&HEIGHT=256&FORMAT=image/png'
MAPNIK_TILE='/mapnik?BBOX={bbox}&WIDTH=256&HEIGHT=256'   # python3-mapnik, the same style (mapnik/make_style.py)
SPP_WMS='/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=cadastral_parcels,hydro_lines,buildings,roads&STYLES=&CRS=EPSG:3857&BBOX={bbox}&WIDTH=256&HEIGHT=256&FORMAT=image/png'
# WFS: both sides answer in EPSG:9210, the CRS of the request boxes (spp reprojects from its
# storage CRS EPSG:5897, MapServer serves the file's CRS as it is); COUNT on both sides
MS_WFS='/ms?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=parcels&BBOX={bbox4},urn:ogc:def:crs:EPSG::9210&OUTPUTFORMAT=geojson&COUNT=1000'
SPP_WFS='/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=cadastral_parcels&BBOX={bbox4},urn:ogc:def:crs:EPSG::9210&SRSNAME=urn:ogc:def:crs:EPSG::9210&OUTPUTFORMAT=application/json&COUNT=1000'
E9210='http://www.opengis.net/def/crs/EPSG/0/9210'
SPP_OAPI="/collections/cadastral_parcels/items?bbox={bbox4}&bbox-crs=$E9210&crs=$E9210&limit=1000"
MVT_LAYERS=cadastral_parcels,roads,buildings            # = PostGIS city_mvt(): parcels, roads, buildings
PNG_LAYERS=cadastral_parcels,hydro_lines,buildings,roads # = the WMS row's layers
SPP_MVT="/tiles/$MVT_LAYERS/{1}/{2}/{3}.mvt" SPP_PNG="/tiles/$PNG_LAYERS/{1}/{2}/{3}.png"
MVT_CT=application/vnd.mapbox-vector-tile

# the raster peers have no tile cache: their rate on the 200 tiles is both their WMS and their cold
# tile figure
peer_wms() {
  measured wms_getmap_png.mapserver || wrk_row wms_getmap_png.mapserver "$TILES" "$MS_WMS" image/png "$BASE_URL"
  if [ -s "$RUN/qgis.pid" ] && ! measured wms_getmap_png.qgis; then
    curl -fsS -o "$RESULTS/samples/wms_qgis.png" "$BASE_URL$(first_path "$TILES" "$QGIS_WMS")" || true
    wrk_row wms_getmap_png.qgis "$TILES" "$QGIS_WMS" image/png "$BASE_URL"
  fi
  if [ -s "$RUN/mapnik.pid" ] && ! measured wms_getmap_png.mapnik; then
    curl -fsS -o "$RESULTS/samples/wms_mapnik.png" "$BASE_URL$(first_path "$TILES" "$MAPNIK_TILE")" || true
    wrk_row wms_getmap_png.mapnik "$TILES" "$MAPNIK_TILE" image/png "$BASE_URL"
  fi
}
peer_wfs() {
  measured wfs_geojson_500.mapserver || wrk_row wfs_geojson_500.mapserver "$WFSL" "$MS_WFS" application/json "$BASE_URL"
  measured wfs_geojson_500_c1.mapserver || wrk_row wfs_geojson_500_c1.mapserver "$WFSL" "$MS_WFS" application/json "$BASE_URL" 1 1
}
peer_static() { measured static_png_20k.nginx || wrk_row static_png_20k.nginx - /static/tile20k.png image/png "$BASE_URL"; }
count_features() { jq '.features | length' "$1" 2>/dev/null || echo "?"; }
first_vertex() { jq -c '[.features[0].geometry.coordinates | .. | numbers] | .[0:2]' "$1" 2>/dev/null || echo "?"; }

# ---- rows ----------------------------------------------------------------------------------
row_wms() {
  peer_wms
  local p; p=$(first_path "$TILES" "$SPP_WMS")
  probe wms_getmap_png.spp "$p" image/png || return 0
  curl -fsS -o "$RESULTS/samples/wms_spp.png" "$SPP_URL$p"
  curl -fsS -o "$RESULTS/samples/wms_mapserver.png" "$BASE_URL$(first_path "$TILES" "$MS_WMS")"
  note wms "first tile: spp $(file -b "$RESULTS/samples/wms_spp.png" | cut -d, -f2-3), $(stat -c %s "$RESULTS/samples/wms_spp.png") B; MapServer $(file -b "$RESULTS/samples/wms_mapserver.png" | cut -d, -f2-3), $(stat -c %s "$RESULTS/samples/wms_mapserver.png") B"
  wrk_row wms_getmap_png.spp "$TILES" "$SPP_WMS" image/png "$SPP_URL"
}
row_wfs() {
  peer_wfs
  local p; p=$(first_path "$WFSL" "$SPP_WFS")
  probe wfs_geojson_500.spp "$p" application/ || return 0
  curl -fsS -o "$RESULTS/samples/wfs_spp.json" "$SPP_URL$p"
  curl -fsS -o "$RESULTS/samples/wfs_mapserver.json" "$BASE_URL$(first_path "$WFSL" "$MS_WFS")"
  note wfs "first box: spp $(count_features "$RESULTS/samples/wfs_spp.json") features, $(stat -c %s "$RESULTS/samples/wfs_spp.json") B, first vertex $(first_vertex "$RESULTS/samples/wfs_spp.json"); MapServer $(count_features "$RESULTS/samples/wfs_mapserver.json") features, $(stat -c %s "$RESULTS/samples/wfs_mapserver.json") B, first vertex $(first_vertex "$RESULTS/samples/wfs_mapserver.json")"
  wrk_row wfs_geojson_500.spp "$WFSL" "$SPP_WFS" application/ "$SPP_URL"
  wrk_row wfs_geojson_500_c1.spp "$WFSL" "$SPP_WFS" application/ "$SPP_URL" 1 1
}
row_ogcapi() {
  peer_wfs
  local p; p=$(first_path "$WFSL" "$SPP_OAPI")
  probe ogcapi_items_500.spp "$p" application/geo+json || return 0
  curl -fsS -o "$RESULTS/samples/ogcapi_spp.json" "$SPP_URL$p"
  note ogcapi "first box: spp $(count_features "$RESULTS/samples/ogcapi_spp.json") features, $(stat -c %s "$RESULTS/samples/ogcapi_spp.json") B, first vertex $(first_vertex "$RESULTS/samples/ogcapi_spp.json")"
  wrk_row ogcapi_items_500.spp "$WFSL" "$SPP_OAPI" application/geo+json "$SPP_URL"
}
row_mvt() {
  measured mvt_pg_z15-17 || "$SB/measure/mvt_pg.sh"
  local p; p=$(first_path "$TILES" "$SPP_MVT")
  probe mvt_cold_c1.spp "$p" "$MVT_CT" || return 0
  cold_pass mvt_cold_c1.spp "$SPP_MVT" "$MVT_CT" 1 || return 0
  cold_pass mvt_cold_c2.spp "$SPP_MVT" "$MVT_CT" 2 || return 0
  fill_cache mvt_cold_c2.spp "$SPP_MVT" "$MVT_CT"
  nginx_same_tiles mvt_cached.nginx mvt_cold_c2.spp mvt application/octet-stream  # the same bytes as static files
  wrk_row mvt_cached.spp "$TILES" "$SPP_MVT" "$MVT_CT" "$SPP_URL"
}
# heavy: the densest tile of the city at each zoom 12..17 (most parcel centroids, heaviest.py),
# every layer PostGIS's city_mvt() has (parcels, roads, buildings); RUNS passes, each on an empty
# tile cache (fresh_spp), each tile asked once: its ms and size. The row's figure is the zoom where
# parcels start (the catalog's minzoom); PostGIS: city_mvt() of that tile, pgbench -t 10 per run.
row_heavy() {
  local list="$OUT/heaviest_tiles.txt" pz k out lb busy=() ms=() kb=() pms=() pkb hx hy
  [ -s "$list" ] && [ "$list" -nt "$DB" ] || $PY "$HERE/heaviest.py" tiles "$DB" 12 17 > "$list"
  pz=$(jq '.zoom.min' "$REPO/layers/cadastral_parcels.json")
  read -r _ hx hy _ < <(awk -v z="$pz" '$1 == z' "$list")
  probe mvt_heaviest.spp "/tiles/$MVT_LAYERS/$pz/$hx/$hy.mvt" "$MVT_CT" || return 0
  lb=$(loadavg)
  for k in $(seq "$RUNS"); do
    fresh_spp || { skip mvt_heaviest.spp "spp did not restart"; return 0; }
    busy+=("$(wait_quiet)")
    out="$RESULTS/raw/mvt_heaviest.run$k.json"
    $PY "$HERE/heaviest.py" measure "$SPP_URL" "$list" "/tiles/$MVT_LAYERS/{1}/{2}/{3}.mvt" > "$out" ||
      skip mvt_heaviest.spp "bad responses: $(head -c 300 "$out")"
    ms+=("$(jq --argjson z "$pz" '.[] | select(.z == $z) | .ms' "$out")")
    kb+=("$(jq --argjson z "$pz" '.[] | select(.z == $z) | .bytes / 1024 | . * 10 | round / 10' "$out")")
    log "heavy run $k: $(jq -c 'map("z\(.z) \(.ms) ms \(.bytes / 1024 | round) KB") | join(", ")' "$out")"
  done
  local IFS=, n
  n="tile $pz/$hx/$hy ($(awk -v z="$pz" '$1 == z {print $4}' "$list") parcel centroids), layers $MVT_LAYERS, cold (empty tile cache, fresh_spp before each run), 1 client; every zoom's densest tile (ms, KB per run): $(jq -s -r 'map(map("z\(.z)/\(.x)/\(.y) \(.ms)ms \(.bytes / 1024 | round)KB") | join(" ")) | join(" | ")' "$RESULTS"/raw/mvt_heaviest.run*.json); cpu busy% before runs: ${busy[*]}"
  record mvt_heaviest.spp.ms "$(printf '%s\n' "${ms[@]}" | median)" ms "${ms[*]}" "$n" "$lb"
  record mvt_heaviest.spp.kb "$(printf '%s\n' "${kb[@]}" | median)" KB "${kb[*]}" "$n" "$lb"
  if runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" status > /dev/null 2>&1; then
    printf '\\set z %s\n\\set x %s\n\\set y %s\nSELECT length(city_mvt(:z, :x, :y));\n' "$pz" "$hx" "$hy" > "$RESULTS/raw/mvt_heaviest_pg.sql"
    pkb=$(psql -qAtc "SELECT round(length(city_mvt($pz,$hx,$hy)) / 102.4) / 10")   # also the warm-up
    busy=()
    for k in $(seq "$RUNS"); do
      busy+=("$(wait_quiet)")
      pgbench -n -c 1 -t 10 -f "$RESULTS/raw/mvt_heaviest_pg.sql" city > "$RESULTS/raw/mvt_heaviest_pg.run$k.txt" 2>&1
      pms+=("$(grep -oP 'latency average = \K[0-9.]+' "$RESULTS/raw/mvt_heaviest_pg.run$k.txt")")
    done
    n="tile $pz/$hx/$hy, city_mvt() (parcels, roads, buildings), pgbench -c1 -t10 per run (database time, warm shared buffers); cpu busy% before runs: ${busy[*]}"
    record mvt_heaviest.pg.ms "$(printf '%s\n' "${pms[@]}" | median)" ms "${pms[*]}" "$n" "$lb"
    record mvt_heaviest.pg.kb "$pkb" KB "$pkb,$pkb,$pkb" "$n (the same bytes every run)" "$lb"
  else
    skip mvt_heaviest.pg "PostGIS not running"
  fi
}
row_scale() { "$HERE/scale.sh" || skip scale "failed: tests/bench/scale.sh (see $LOGS/scale.log)"; }

# ---- pg (opt-in, issue 24): spp on PostGIS ------------------------------------------------------
# The served store copied (spp init + spp copy) into a throw-away PostgreSQL 15 + PostGIS cluster
# (scripts/pg-temp.sh, in $OUT/spp/pg); replicas are `spp serve --db postgresql://...` with their
# own tile cache (tile_cache_dir). The same WFS list and tile list as the wfs and mvt rows: WFS and
# cold/cached MVT on one replica beside the same figures on SpatiaLite, then WFS and cached MVT
# through nginx (docs/deploy.md's upstream and location blocks) with 1 and with 2 replicas.
PG_TMP="" PG_URI="" PG_NGINX="" PG_NGINX_URL=""
declare -A PG_REP_PID=() PG_REP_URL=()
stop_pg_rep() {  # stop_pg_rep N
  local pid=${PG_REP_PID[$1]:-}
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  PG_REP_PID[$1]=""
}
stop_pg_nginx() {
  if [ -n "$PG_NGINX" ] && kill -0 "$PG_NGINX" 2>/dev/null; then
    kill -QUIT "$PG_NGINX" 2>/dev/null || true; wait "$PG_NGINX" 2>/dev/null || true
  fi
  PG_NGINX=""
}
stop_pg_row() {
  local n
  for n in "${!PG_REP_PID[@]}"; do stop_pg_rep "$n"; done
  stop_pg_nginx
  if [ -n "$PG_TMP" ]; then "$REPO/scripts/pg-temp.sh" clean "$PG_TMP" > /dev/null 2>&1 || true; PG_TMP=""; fi
}
# start_pg_rep N [fresh]: replica N on a free port, its tile cache in $OUT/spp/pg/cacheN (emptied
# with "fresh"); ready when /readyz answers 200
start_pg_rep() {
  local n=$1 port dir="$OUT/spp/pg/cache$1"
  stop_pg_rep "$n"
  [ "${2:-}" = fresh ] && rm -rf "$dir"
  mkdir -p "$dir"
  printf '{"tile_cache_dir": "%s"}\n' "$dir" > "$OUT/spp/pg/rep$n.json"
  port=$(free_port)
  PGPASSWORD=$(cat "$PG_TMP/password") "$SPP_BIN" serve --db "$PG_URI" --listen "127.0.0.1:$port" \
    --threads "$SPP_THREADS" --config "$OUT/spp/pg/rep$n.json" --quiet >> "$LOGS/spp_pg_serve$n.log" 2>&1 &
  PG_REP_PID[$n]=$! PG_REP_URL[$n]="http://127.0.0.1:$port"
  for _ in $(seq 200); do
    curl -fsS -o /dev/null "${PG_REP_URL[$n]}/readyz" 2>/dev/null && return 0
    kill -0 "${PG_REP_PID[$n]}" 2>/dev/null || break
    sleep 0.1
  done
  log "spp serve on PostGIS (replica $n) did not come up: $(tail -3 "$LOGS/spp_pg_serve$n.log")"; return 1
}
# start_pg_nginx URL...: nginx with docs/deploy.md's upstream (servers replaced by URLs) and location
start_pg_nginx() {
  stop_pg_nginx
  local d="$OUT/spp/pg/nginx" port; port=$(free_port)
  mkdir -p "$d"
  $PY - "$REPO/docs/deploy.md" "$d" "$port" "$@" > "$d/nginx.conf" <<'PYEOF' || return 1
import os, re, sys
doc, d, port, urls = open(sys.argv[1], encoding="utf-8").read(), sys.argv[2], sys.argv[3], sys.argv[4:]
conf = re.search(r"### nginx in front\s*```nginx\n(.*?)```", doc, re.S).group(1)
up = re.search(r"^upstream spp \{\n.*?^\}\n", conf, re.S | re.M).group(0)
loc = re.search(r"^    location / \{\n.*?^    \}\n", conf, re.S | re.M).group(0)
servers = [l for l in up.splitlines() if l.strip().startswith("server ")]
keep = re.sub(r"^\s*server \S+", "", servers[0])  # max_fails=... fail_timeout=...;
body = "".join("    server %s%s\n" % (u.replace("http://", ""), keep) for u in urls)
up = up.replace("\n".join(servers) + "\n", body)
user = "user root;\n" if os.getuid() == 0 else ""
print(f"""{user}worker_processes 2;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{up}
    server {{
        listen 127.0.0.1:{port};
{loc}    }}
}}""")
PYEOF
  nginx -p "$d" -c "$d/nginx.conf" -g "daemon off;" 2>> "$LOGS/spp_pg_nginx.log" &
  PG_NGINX=$! PG_NGINX_URL="http://127.0.0.1:$port"
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "$PG_NGINX_URL/readyz" 2>/dev/null && return 0
    kill -0 "$PG_NGINX" 2>/dev/null || break
    sleep 0.1
  done
  log "nginx for the pg row did not come up: $(tail -3 "$LOGS/spp_pg_nginx.log")"; return 1
}
row_pg() {
  [ "$IMPORT_OK" = 1 ] || { skip spp_pg "spp not measured (no store, see above)"; return 0; }
  stop_pg_row
  rm -rf "$OUT/spp/pg"; mkdir -p "$OUT/spp/pg"
  PG_TMP="$OUT/spp/pg/cluster"
  PG_URI=$("$REPO/scripts/pg-temp.sh" start "$PG_TMP" 2>> "$LOGS/spp_pg.log" | tail -1) ||
    { skip spp_pg "failed: scripts/pg-temp.sh start (see $LOGS/spp_pg.log)"; return 0; }
  local t0 t1 k out lb conc=2 n
  t0=$(date +%s.%N)
  if ! PGPASSWORD=$(cat "$PG_TMP/password") "$SPP_BIN" init --db "$PG_URI" >> "$LOGS/spp_pg.log" 2>&1 ||
     ! PGPASSWORD=$(cat "$PG_TMP/password") "$SPP_BIN" copy --db "$PG_URI" --from "$LIVE/city.sqlite" >> "$LOGS/spp_pg.log" 2>&1; then
    skip spp_pg "failed: spp init/copy into PostGIS (see $LOGS/spp_pg.log)"; return 0
  fi
  t1=$(date +%s.%N)
  note spp_pg "store copied into PostgreSQL 15 + PostGIS ($PG_URI, scripts/pg-temp.sh: fsync off) by spp copy in $(printf '%.1f' "$(echo "$t1 - $t0" | bc -l)") s; replicas: spp serve --threads $SPP_THREADS, tile cache per replica"
  start_pg_rep 1 fresh || { skip spp_pg "spp serve on PostGIS did not start"; return 0; }
  # the same figures on SpatiaLite, unless the wfs/mvt rows measured them in this run
  measured wfs_geojson_500.spp || wrk_row wfs_geojson_500.spp "$WFSL" "$SPP_WFS" application/ "$SPP_URL"
  wrk_row wfs_geojson_500.spp_pg "$WFSL" "$SPP_WFS" application/ "${PG_REP_URL[1]}"
  # cold tiles: RUNS passes, each on an empty cache (the replica restarted without its file)
  local -a tps=()
  lb=$(loadavg)
  for k in $(seq "$RUNS"); do
    start_pg_rep 1 fresh || { skip mvt_cold_c2.spp_pg "replica did not restart"; return 0; }
    wait_quiet > /dev/null
    out="$RESULTS/raw/mvt_cold_c2.spp_pg.run$k.json"
    $PY "$HERE/coldtiles.py" "${PG_REP_URL[1]}" "$TILES" "$SPP_MVT" "$MVT_CT" --conc "$conc" \
      --max-seconds "$COLD_MAX" > "$out" 2> "$out.err" ||
      skip mvt_cold_c2.spp_pg "bad responses in a cold pass: $(tail -1 "$out.err")"
    jq -e .requests "$out" > /dev/null 2>&1 || { skip mvt_cold_c2.spp_pg "coldtiles.py failed"; return 0; }
    tps+=("$(jq .tiles_per_s "$out")")
  done
  n="coldtiles.py --conc $conc, the mvt row's 200 tiles once per run on an empty replica cache, at most ${COLD_MAX}s per pass; tiles done per run $(jq -s -r 'map("\(.requests)/\(.planned)") | join(",")' "$RESULTS"/raw/mvt_cold_c2.spp_pg.run*.json)"
  record mvt_cold_c2.spp_pg.tiles_per_s "$(printf '%s\n' "${tps[@]}" | median)" "tiles/s" "$(IFS=,; echo "${tps[*]}")" "$n" "$lb"
  # cached tiles: every tile in the replica's cache first
  $PY "$HERE/coldtiles.py" "${PG_REP_URL[1]}" "$TILES" "$SPP_MVT" "$MVT_CT" --conc 2 > "$RESULTS/raw/mvt_pg_fill1.json" 2>&1 || true
  if ! measured mvt_cached.spp; then
    $PY "$HERE/coldtiles.py" "$SPP_URL" "$TILES" "$SPP_MVT" "$MVT_CT" --conc 2 > "$RESULTS/raw/mvt_lite_fill.json" 2>&1 || true
    wrk_row mvt_cached.spp "$TILES" "$SPP_MVT" "$MVT_CT" "$SPP_URL"
  fi
  wrk_row mvt_cached.spp_pg "$TILES" "$SPP_MVT" "$MVT_CT" "${PG_REP_URL[1]}"
  # throughput through nginx: 1 replica, then 2 (the second with its cache filled too)
  start_pg_nginx "${PG_REP_URL[1]}" || { skip pg_replicas "nginx did not start"; return 0; }
  wrk_row wfs_geojson_500.pg_1rep "$WFSL" "$SPP_WFS" application/ "$PG_NGINX_URL"
  wrk_row mvt_cached.pg_1rep "$TILES" "$SPP_MVT" "$MVT_CT" "$PG_NGINX_URL"
  start_pg_rep 2 fresh || { skip pg_replicas "the second replica did not start"; return 0; }
  $PY "$HERE/coldtiles.py" "${PG_REP_URL[2]}" "$TILES" "$SPP_MVT" "$MVT_CT" --conc 2 > "$RESULTS/raw/mvt_pg_fill2.json" 2>&1 || true
  start_pg_nginx "${PG_REP_URL[1]}" "${PG_REP_URL[2]}" || { skip pg_replicas "nginx did not start"; return 0; }
  wrk_row wfs_geojson_500.pg_2rep "$WFSL" "$SPP_WFS" application/ "$PG_NGINX_URL"
  wrk_row mvt_cached.pg_2rep "$TILES" "$SPP_MVT" "$MVT_CT" "$PG_NGINX_URL"
  note pg_replicas "through nginx (docs/deploy.md's upstream: least_conn, keepalive 64) on this one machine ($(nproc) cores): replicas, nginx, PostgreSQL and wrk share the CPUs, so 2 replicas gain only what idle cores allow"
  stop_pg_row
}
# The cold PNG passes of spp and of the raster peers, alternated (run 1 of each, then run 2...):
# the machine is shared, and a one-second pass swings with what else runs in that second, so
# each run of spp meets about the same load as the peers' runs beside it.
png_cold_alternating() {
  local -a names=(png_cold.mapserver) tpls=("$MS_WMS") bases=("$BASE_URL") ok=()
  if [ -s "$RUN/qgis.pid" ]; then names+=(png_cold.qgis) tpls+=("$QGIS_WMS") bases+=("$BASE_URL"); fi
  if [ -s "$RUN/mapnik.pid" ]; then names+=(png_cold.mapnik) tpls+=("$MAPNIK_TILE") bases+=("$BASE_URL"); fi
  names+=(png_cold.spp) tpls+=("$SPP_PNG") bases+=("")
  local i k lb; lb=$(loadavg)
  rm -rf "${OUT:?}/static/spp/png_cold.spp"   # no bytes of an earlier run
  for i in "${!names[@]}"; do ok[i]=1; done
  for k in $(seq "$RUNS"); do
    for i in "${!names[@]}"; do
      [ "${ok[i]}" = 1 ] || continue
      cold_once "${names[i]}" "${tpls[i]}" image/png "$CONNS" "${bases[i]}" "$k" || ok[i]=0
    done
  done
  for i in "${!names[@]}"; do
    [ "${ok[i]}" = 1 ] && cold_record "${names[i]}" "$CONNS" "${bases[i]}" "$lb" "; alternated with the other servers' passes"
  done
  [ "${ok[${#names[@]}-1]}" = 1 ]
}
row_png() {
  peer_wms
  local p; p=$(first_path "$TILES" "$SPP_PNG")
  probe png_cold.spp "$p" image/png || return 0
  note png "first tile (cold): spp $(file -b "$RESULTS/samples/png_cold.spp.probe" | cut -d, -f2-3), $(stat -c %s "$RESULTS/samples/png_cold.spp.probe") B"
  png_cold_alternating || return 0
  fill_cache png_cold.spp "$SPP_PNG" image/png
  nginx_same_tiles png_cached.nginx png_cold.spp png image/png
  wrk_row png_cached.spp "$TILES" "$SPP_PNG" image/png "$SPP_URL"
}
row_static() {
  peer_static
  local p; p=$(first_path "$TILES" "$SPP_PNG")
  probe static_20k.spp "$p" image/png || return 0
  # the cached tile (PNG or MVT, as the png/mvt rows saved them) nearest 20 482 B; without those
  # rows, a PNG pass fills the cache first
  [ -d "$OUT/static/spp/png_cold.spp" ] || [ -d "$OUT/static/spp/mvt_cold_c2.spp" ] ||
    fill_cache png_cold.spp "$SPP_PNG" image/png
  local best ct
  best=$(cd "$OUT/static/spp" && find png_cold.spp mvt_cold_c2.spp -type f -printf '%s %p\n' 2>/dev/null |
         awk -v t="$(stat -c %s "$OUT/static/tile20k.png")" '{d = $1 - t; if (d < 0) d = -d}
           !n++ || d < bd {bd = d; bp = $2} END {print bp}')
  [ -n "$best" ] || { skip static_20k.spp "failed: no cached tile to serve"; return 0; }
  IFS=/ read -r dir z x f <<<"$best"
  if [ "$dir" = png_cold.spp ]; then p="/tiles/$PNG_LAYERS/$z/$x/$f" ct=image/png
  else p="/tiles/$MVT_LAYERS/$z/$x/$f" ct="$MVT_CT"; fi
  curl -fsS -o "$RESULTS/samples/static_spp.bin" "$SPP_URL$p"   # cached now (or again)
  note static "spp serves the cached tile $p ($(stat -c %s "$RESULTS/samples/static_spp.bin") B); nginx serves $OUT/static/tile20k.png ($(stat -c %s "$OUT/static/tile20k.png") B)"
  wrk_row static_20k.spp - "$p" "$ct" "$SPP_URL"
}
row_land() {
  local l="$HERE/requests/land_at_200.txt" t='/api/v1/land/at?lon={1}&lat={2}'
  probe land_at.spp "$(first_path "$l" "$t")" application/ || return 0
  wrk_row land_at.spp "$l" "$t" application/ "$SPP_URL"
}
row_landfund() {
  local l="$HERE/requests/land_funds_50.txt" t='/api/v1/land-funds?{1}'
  probe land_funds.spp "$(first_path "$l" "$t")" application/ || return 0
  curl -fsS -o "$RESULTS/samples/land_funds.json" "$SPP_URL$(first_path "$l" "$t")"
  wrk_row land_funds.spp "$l" "$t" application/ "$SPP_URL"
}
row_import() {
  measured ingest_ogr2ogr_shp_to_spatialite || "$SB/measure/ingest.sh"
  has_cmd import || { skip spp_import_parcels "not available: spp has no import command"; return 0; }
  # the very file ogr2ogr just copied (ingest.sh's $OUT/src/parcels.shp, in the page cache now)
  local dst="$OUT/ingest/spp_parcels.sqlite" man="$OUT/src/spp_parcels_manifest.json" n busy lb med fps times
  mkdir -p "$OUT/ingest"
  [ -f "$OUT/src/parcels.shp" ] || { skip spp_import_parcels "failed: no $OUT/src/parcels.shp from ingest.sh"; return 0; }
  cp "$SRC/parcels_manifest.json" "$man"
  n=$(ogrinfo -ro -so "$OUT/src/parcels.shp" parcels | grep -oP 'Feature Count: \K[0-9]+')
  busy=$(wait_quiet); lb=$(loadavg)
  if ! hyperfine --runs "$RUNS" --prepare "rm -f $dst $dst-wal $dst-shm $dst.tiles" \
      --export-json "$RESULTS/raw/spp_import.json" \
      "$SPP_BIN import --db $dst --manifest $man || [ \$? -eq 3 ]" > "$RESULTS/raw/spp_import.txt" 2>&1; then
    skip spp_import_parcels "failed: $(tail -3 "$RESULTS/raw/spp_import.txt" | tr '\n' ' ')"; return 0
  fi
  med=$(jq -r '.results[0].median' "$RESULTS/raw/spp_import.json")
  times=$(jq -r '.results[0].times | map(tostring) | join(",")' "$RESULTS/raw/spp_import.json")
  fps=$(echo "$n / $med" | bc -l | xargs printf '%.0f')
  record spp_import_parcels.features_per_s "$fps" features/s \
    "$(tr ',' '\n' <<<"$times" | while read -r t; do echo "$n / $t" | bc -l | xargs printf '%.0f\n'; done | paste -sd,)" \
    "$n parcels from $OUT/src/parcels.shp (the file ingest.sh copies with ogr2ogr, warm in the page cache); median wall ${med}s; spp import --manifest spp_parcels_manifest.json (renames, ward -> commune code, TT27 -> TT08 codes, encoding detection, make valid, reproject 9210 -> 5897, R*Tree, lineage, report); hyperfine runs=$RUNS, no warm-up run (ogr2ogr's runs warmed the file); cpu busy% before: $busy" "$lb"
}

for r in $ALL $OPT_IN; do
  want "$r" || continue
  log "=== row $r"
  "row_$r"
done

# ---- table -----------------------------------------------------------------------------------
note total "bench.sh wall time $(( $(date +%s) - t_start )) s"
mkdir -p "$HERE/results"
$PY "$HERE/report.py" "$RESULTS" --json "$RESULTS/results.json" --md "$RESULTS/table.md"
cp "$RESULTS/table.md" "$HERE/results/latest.md"; cp "$RESULTS/results.json" "$HERE/results/latest.json"
cat "$RESULTS/table.md"
log "results in $RESULTS (table.md, results.json, raw/, samples/); copied to tests/bench/results/latest.{md,json}"
