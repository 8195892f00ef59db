#!/usr/bin/env bash
# Installs the Debian 12 packages spp needs to build, run and test. Run as root it installs what
# is missing (apt-get, non-interactive); otherwise it prints the exact command to run.
# usage: scripts/install-deps.sh [build|test|bench]   (default: build)
set -euo pipefail
what=${1:-build}
pkgs=(build-essential pkg-config libgdal-dev libproj-dev proj-data proj-bin libgeos-dev
      libsqlite3-dev libspatialite-dev libsqlite3-mod-spatialite libmicrohttpd-dev
      libjansson-dev libcairo2-dev libxml2-dev libutf8proc-dev nettle-dev zlib1g-dev
      libpng-dev libwebp-dev libjpeg-dev libdeflate-dev libqrencode-dev fonts-dejavu-core gdal-bin sqlite3
      python3-gdal
      libpq-dev postgresql-15 postgresql-15-postgis-3   # the PostGIS store backend and its tests
      curl ca-certificates)
case "$what" in
  build) command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm) ;;  # MapLibre GL JS for the web map
  # python3-qgis + qgis-providers: QGIS 3.22 headless for tests/interop (about 110 MB to fetch,
  # 640 MB installed, a minute on the CI machine)
  test)  pkgs+=(python3-pytest python3-owslib python3-pyproj python3-lxml python3-prometheus-client
                clang-format clang libclang-rt-14-dev chromium python3-qgis qgis-providers
                poppler-utils zbar-tools   # the printed sheet: pdfinfo, pdftoppm, zbarimg
                pgbouncer                  # the PostGIS store through transaction pooling
                nginx)                     # test_pg_replicas: a replica killed behind nginx
         # node and npm come with the machine (a nodejs build that conflicts with Debian's npm);
         # only a machine without them gets Debian's.
         command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm) ;;
  bench) pkgs+=(wrk hyperfine nginx mapserver-bin cgi-mapserver spawn-fcgi postgresql-15
                postgresql-15-postgis-3 postgis python3-numpy jq bc file xxd iproute2 procps
                qgis-server python3-mapnik fonts-dejavu-core) ;;  # issue 22: QGIS Server 3.22 (FastCGI) and Mapnik peers
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "spp needs these Debian packages; run as root:" >&2
  echo "  apt-get update && $cmd" >&2
  exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/lists/partial/.spp-updated
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
  apt-get update -qq && touch "$stamp" 2>/dev/null || true
fi
$cmd -qq >/dev/null || { apt-get update -qq && $cmd -qq; }
