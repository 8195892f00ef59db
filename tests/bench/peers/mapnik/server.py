#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The Mapnik peer: python3-mapnik rendering the city's style (make_style.py) to 256 x 256 PNG
tiles over HTTP, behind the peer nginx (/mapnik). WORKERS pre-forked processes (= MapServer's
FastCGI workers) accept on one listening socket; each loads the map once and renders every
request itself (no tile cache, as MapServer and QGIS Server have none).

  GET /mapnik?BBOX=minx,miny,maxx,maxy[&WIDTH=256&HEIGHT=256]   (EPSG:3857, like WMS 1.3.0)
  -> image/png (24-bit RGB, the background of the MapServer peer)

usage: server.py STYLE.xml HOST PORT WORKERS PIDFILE
"""
import os
import signal
import socket
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

import mapnik


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    m = None

    def log_message(self, *a):
        pass

    def answer(self, code, ctype, body):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = {k.upper(): v for k, v in urllib.parse.parse_qsl(u.query)}
        try:
            b = [float(v) for v in q["BBOX"].split(",")]
            w, h = int(q.get("WIDTH", 256)), int(q.get("HEIGHT", 256))
            if len(b) != 4 or not (0 < w <= 4096 and 0 < h <= 4096):
                raise ValueError
        except (KeyError, ValueError):
            self.answer(400, "text/plain", b"BBOX=minx,miny,maxx,maxy (EPSG:3857) wanted\n")
            return
        m = Handler.m
        m.resize(w, h)
        m.zoom_to_box(mapnik.Box2d(*b))
        im = mapnik.Image(w, h)
        mapnik.render(m, im)
        self.answer(200, "image/png", im.tostring("png24"))


class Server(HTTPServer):
    def server_bind(self):  # the socket is made (and bound) once, before forking
        pass

    def server_activate(self):
        pass


def main():
    style, host, port, workers, pidfile = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
        int(sys.argv[4]), sys.argv[5]
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    pids = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            m = mapnik.Map(256, 256)
            mapnik.load_map(m, style)
            Handler.m = m
            srv = Server((host, port), Handler, bind_and_activate=False)
            srv.socket = sock
            srv.serve_forever()
            os._exit(0)
        pids.append(pid)
    with open(pidfile, "w") as f:
        f.write("\n".join(str(p) for p in [os.getpid()] + pids) + "\n")

    def stop(*_):
        for p in pids:
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                pass
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in pids:
        os.wait()


if __name__ == "__main__":
    main()
