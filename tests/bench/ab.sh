#!/bin/bash
# A/B of two spp release builds on the bench city, alternating, one run (not part of CI):
#   BASE_BIN=... BASE_CFG=... NEW_BIN=... NEW_CFG=... DB=... tests/bench/ab.sh > ab.out
# *_CFG: a --config JSON giving each build its own layers_dir/styles_dir/web_dir (a build of an
# older commit needs that commit's catalog: `git archive COMMIT layers styles src/web | tar -x`).
# DB: a copy of the bench city (make bench leaves it in /tmp/spp-bench/spp/city.sqlite).
# Prints one wrk RESULT line per round, build and row (tests/bench/peers/wrk/urls.lua), and first
# a cold PNG tile pass (coldtiles.py, 16 connections, the 200 tiles once on an empty tile cache:
# DB's .tiles file is removed before each start) with the CPU seconds the server spent on it.
set -u
B=$(cd "$(dirname "$0")" && pwd)
: "${BASE_BIN:?}" "${BASE_CFG:?}" "${NEW_BIN:?}" "${NEW_CFG:?}" "${DB:?}"
WMS='/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=cadastral_parcels,hydro_lines,buildings,roads&STYLES=&CRS=EPSG:3857&BBOX={bbox}&WIDTH=256&HEIGHT=256&FORMAT=image/png'
WFS='/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=cadastral_parcels&BBOX={bbox4},urn:ogc:def:crs:EPSG::9210&SRSNAME=urn:ogc:def:crs:EPSG::9210&OUTPUTFORMAT=application/json&COUNT=1000'
OGC='/collections/cadastral_parcels/items?bbox={bbox4}&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/9210&crs=http://www.opengis.net/def/crs/EPSG/0/9210&limit=1000'
LAND='/api/v1/land/at?lon={1}&lat={2}'
PNG='/tiles/cadastral_parcels,hydro_lines,buildings,roads/{1}/{2}/{3}.png'
cpu() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }
for round in 1 2 3; do
  for v in base new; do
    if [ $v = base ]; then BIN=$BASE_BIN CFG=$BASE_CFG; else BIN=$NEW_BIN CFG=$NEW_CFG; fi
    # a free port: a fixed range of 9 can collide with another A/B on this shared machine, and wrk
    # would then measure the other server (a build that did not start is said so, below)
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    rm -f "$DB.tiles" "$DB.tiles-wal" "$DB.tiles-shm"
    "$BIN" serve --config "$CFG" --db "$DB" --listen 127.0.0.1:$port --threads 2 --quiet \
      >"/tmp/ab-$v.$$.log" 2>&1 &
    pid=$!
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.2; done
    kill -0 $pid 2>/dev/null || { echo "$round $v: spp did not start: $(tail -2 /tmp/ab-$v.$$.log)"; continue; }
    c0=$(cpu $pid)
    r=$(/usr/bin/python3 "$B/coldtiles.py" "http://127.0.0.1:$port" "$B/peers/requests/tiles_z15-17.txt" \
      "$PNG" image/png --conc 16)
    echo "$round $v pngcold $r cpu_s=$(awk -v a="$c0" -v b="$(cpu $pid)" 'BEGIN {print b - a}')"
    for row in wms wfs ogc land; do
      case $row in
        wms) L=$B/peers/requests/tiles_z15-17.txt; T=$WMS; C=image/png;;
        wfs) L=$B/peers/requests/wfs_bbox_500.txt; T=$WFS; C=application/;;
        ogc) L=$B/peers/requests/wfs_bbox_500.txt; T=$OGC; C=application/;;
        land) L=$B/requests/land_at_200.txt; T=$LAND; C=application/json;;
      esac
      wrk -t2 -c16 -d2s -s "$B/peers/wrk/urls.lua" "http://127.0.0.1:$port" -- "$L" "$T" $C >/dev/null 2>&1
      r=$(wrk -t2 -c16 -d6s --latency -s "$B/peers/wrk/urls.lua" "http://127.0.0.1:$port" -- "$L" "$T" $C 2>&1 | grep RESULT)
      echo "$round $v $row $r"
    done
    kill $pid; wait $pid 2>/dev/null
  done
done
