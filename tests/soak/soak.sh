#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# soak.sh: a long mixed load against `spp serve` on the demo store (not part of CI).
# wrk (Debian package wrk) runs 64 connections for DURATION through a Lua script cycling over
# URLs of every service this build has (WMS GetMap/GetFeatureInfo/GetCapabilities, WFS, OGC API,
# tiles, the land queries), discovered by asking the server which routes exist and where the
# data is. The server's resident memory (VmRSS) is sampled every 10 s. Reports socket errors,
# 5xx and 4xx counts, latency, memory over time, and flags memory growth after warm-up.
# Exit 1 on any socket error, any 5xx, or memory growth past the threshold.
#
# usage: tests/soak/soak.sh [-d DURATION_S] [-c CONNECTIONS] [-t WRK_THREADS] [-w SERVER_THREADS]
#                            [--db STORE] [--spp BIN] [--key KEY]
#   defaults: -d 600 -c 64 -t 2 -w 4, --db data/demo/spp.sqlite (made by `make demo` if missing)
#   Growth threshold: SOAK_GROWTH_MB (default 32) or 15 % of the post-warm-up RSS, the larger.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=600 conns=64 wthreads=2 sthreads=4 db=data/demo/spp.sqlite spp=./spp key=""
while [ $# -gt 0 ]; do
  case "$1" in
    -d) duration=$2; shift 2 ;;
    -c) conns=$2; shift 2 ;;
    -t) wthreads=$2; shift 2 ;;
    -w) sthreads=$2; shift 2 ;;
    --db) db=$2; shift 2 ;;
    --spp) spp=$2; shift 2 ;;
    --key) key=$2; shift 2 ;;
    -h|--help) sed -n '3,17p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "soak.sh: wrk missing (apt-get install wrk)" >&2; exit 2; }
[ -x "$spp" ] || make spp >/dev/null
[ -f "$db" ] || make demo >/dev/null

tmp=$(mktemp -d /tmp/spp-soak.XXXXXX)
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/config.json" <<JSON
{"limits": {"max_concurrent": $((conns * 2)), "rate_per_minute": 0, "per_client_connections": $((conns * 2)),
            "render_queue": $((conns * 2))}}
JSON
"$spp" serve --db "$db" --listen "127.0.0.1:$port" --threads "$sthreads" --config "$tmp/config.json" \
  --quiet >"$tmp/serve.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
trap cleanup EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$base/healthz" >/dev/null || { echo "soak.sh: server did not start"; cat "$tmp/serve.log"; exit 1; }

# The URL mix: only routes this build has (a route is absent when the router answers its own
# 404), placed inside the extent of layers that have data.
SOAK_BASE=$base SOAK_KEY=$key /usr/bin/python3 - >"$tmp/urls.txt" <<'PY'
import json, math, os, sys, urllib.request, urllib.error
base, key = os.environ["SOAK_BASE"], os.environ.get("SOAK_KEY")
def get(path):
    req = urllib.request.Request(base + path, headers={"X-API-Key": key} if key else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
cols = json.loads(get("/collections")[1])["collections"]
with_data = [c for c in cols if c.get("itemCount") and c.get("extent")] or cols[:3]
urls = ["/collections", "/conformance", "/"]
def tile(lon, lat, z):
    n = 2 ** z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
for c in with_data[:8]:
    lid = c["id"]
    bb = c.get("extent", {}).get("spatial", {}).get("bbox", [[105.74, 10.02, 105.80, 10.06]])[0]
    cx, cy = (bb[0] + bb[2]) / 2, (bb[1] + bb[3]) / 2
    w = min(bb[2] - bb[0], 0.01) / 2 or 0.002
    small = f"{cy - w},{cx - w},{cy + w},{cx + w}"  # WMS 1.3.0 EPSG:4326 is lat,lon
    urls += [f"/collections/{lid}", f"/collections/{lid}/items?limit=50",
             f"/collections/{lid}/items?limit=10&bbox={cx - w},{cy - w},{cx + w},{cy + w}",
             f"/collections/{lid}/queryables",
             f"/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={lid}&STYLES=&CRS=EPSG:4326"
             f"&BBOX={small}&WIDTH=256&HEIGHT=256&FORMAT=image/png",
             f"/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS={lid}&QUERY_LAYERS={lid}"
             f"&STYLES=&CRS=EPSG:4326&BBOX={small}&WIDTH=256&HEIGHT=256&I=128&J=128"
             f"&INFO_FORMAT=application/json",
             f"/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES={lid}&COUNT=50"
             f"&OUTPUTFORMAT=application/json",
             f"/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES={lid}&COUNT=20"]
    for z in (14, 16):
        x, y = tile(cx, cy, z)
        urls += [f"/tiles/{lid}/{z}/{x}/{y}.mvt", f"/tiles/{lid}/{z}/{x}/{y}.png"]
    urls += [f"/api/v1/land/at?lon={cx}&lat={cy}"]
urls += ["/wms?SERVICE=WMS&REQUEST=GetCapabilities", "/wfs?SERVICE=WFS&REQUEST=GetCapabilities",
         "/api/v1/land-funds?kind=vacant&limit=20", "/api/v1/land-funds?kind=investment&f=csv",
         "/tiles/all.json", "/metrics"]
kept, dropped = [], {}
for u in dict.fromkeys(urls):
    status, body = get(u)
    route = u.split("?")[0].split("/")[1] or "/"
    if status == 404 and b"no resource at" in body:
        dropped[route] = dropped.get(route, 0) + 1
        continue
    kept.append(u)
    if status >= 400:
        print(f"soak.sh: warning: {status} for {u}: {body[:200]!r}", file=sys.stderr)
print("soak.sh: absent routes skipped: " + (", ".join(sorted(dropped)) or "none"), file=sys.stderr)
print("\n".join(kept))
PY
n_urls=$(wc -l <"$tmp/urls.txt")
services=$(cut -d/ -f2 "$tmp/urls.txt" | cut -d'?' -f1 | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')
echo "soak: $n_urls URLs ($services), $conns connections, ${duration}s, server pid $pid ($sthreads threads)"

rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0; }
: >"$tmp/rss.txt"
(
  t=0
  while kill -0 "$pid" 2>/dev/null; do
    echo "$t $(rss)" >>"$tmp/rss.txt"
    sleep 10; t=$((t + 10))
  done
) &
sampler=$!
hdr=()
[ -n "$key" ] && hdr=(-H "X-API-Key: $key")
SOAK_URLS=$tmp/urls.txt wrk -t "$wthreads" -c "$conns" -d "${duration}s" --timeout 30s --latency \
  "${hdr[@]}" -s tests/soak/soak.lua "$base" >"$tmp/wrk.txt" 2>&1 || true
echo "$duration $(rss)" >>"$tmp/rss.txt"
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true

sed -n '/Thread Stats/,/Transfer\/sec/p' "$tmp/wrk.txt"
grep '^soak-' "$tmp/wrk.txt" | sort | head -40
alive=1
kill -0 "$pid" 2>/dev/null || alive=0
SOAK_GROWTH_MB=${SOAK_GROWTH_MB:-32} /usr/bin/python3 - "$tmp/rss.txt" "$tmp/wrk.txt" "$alive" <<'PY'
import os, re, sys
samples = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
wrk = open(sys.argv[2]).read()
alive = sys.argv[3] == "1"
m = re.search(r"soak-status (.*)", wrk)
st = dict(kv.split("=") for kv in m.group(1).split()) if m else {}
print("rss over time (s: MB):", " ".join(f"{t}:{kb / 1024:.0f}" for t, kb in samples))
fail = []
if not m:
    fail.append("wrk printed no summary:\n" + wrk[-2000:])
else:
    errors = sum(int(st[k]) for k in ("connect", "read", "write", "timeout"))
    print(f"requests {st['requests']}, 2xx {st['2xx']}, 4xx {st['4xx']}, 5xx {st['5xx']}, "
          f"socket errors {errors}, p50 {st['p50_ms']} ms, p99 {st['p99_ms']} ms")
    if errors: fail.append(f"{errors} socket errors")
    if int(st["5xx"]): fail.append(f"{st['5xx']} answers 5xx")
if not alive: fail.append("the server died")
warm = [s for s in samples if s[0] >= max(20, samples[-1][0] // 5)] if samples else []
if len(warm) >= 2:
    first, last, peak = warm[0][1], warm[-1][1], max(kb for _, kb in warm)
    limit = max(float(os.environ["SOAK_GROWTH_MB"]) * 1024, 0.15 * first)
    growth = last - first
    print(f"rss after warm-up: {first / 1024:.0f} MB at {warm[0][0]} s -> {last / 1024:.0f} MB at "
          f"{warm[-1][0]} s (peak {peak / 1024:.0f} MB, growth {growth / 1024:+.1f} MB, "
          f"limit {limit / 1024:.0f} MB)")
    if growth > limit: fail.append(f"memory grew {growth / 1024:.0f} MB after warm-up")
else:
    print("rss: run too short to judge growth after warm-up (needs > 30 s)")
print("soak: " + ("FAIL: " + "; ".join(fail) if fail else "ok"))
sys.exit(1 if fail else 0)
PY
