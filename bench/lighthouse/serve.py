#!/usr/bin/env python3
"""A static file server for Lighthouse runs that compresses like GitHub Pages.

GitHub Pages, where the site is published, sends HTML, CSS, JavaScript, JSON and SVG
gzip-encoded to any client that accepts it; Python's http.server sends everything
uncompressed, which would make Lighthouse score transfer sizes the real site never
has. This server answers as Pages does: gzip for text types when the request accepts
it, `Cache-Control: max-age=600` (Pages' default), plain bytes otherwise.

Usage: serve.py PORT DIR   (binds 127.0.0.1 only)
"""

import gzip
import http.server
import io
import os
import sys
from functools import partial

COMPRESSED = {".html", ".css", ".js", ".json", ".svg", ".geojson", ".csv", ".txt", ".xml"}


class Handler(http.server.SimpleHTTPRequestHandler):
    def send_head(self):
        path = self.translate_path(self.path)
        if os.path.isdir(path):
            if not self.path.split("?", 1)[0].endswith("/"):
                return super().send_head()
            path = os.path.join(path, "index.html")
        ext = os.path.splitext(path)[1].lower()
        accepts = "gzip" in self.headers.get("Accept-Encoding", "")
        if ext not in COMPRESSED or not accepts or not os.path.isfile(path):
            return super().send_head()
        with open(path, "rb") as f:
            body = gzip.compress(f.read(), compresslevel=6)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Vary", "Accept-Encoding")
        self.end_headers()
        return io.BytesIO(body)

    def end_headers(self):
        self.send_header("Cache-Control", "max-age=600")
        super().end_headers()

    def log_message(self, *args):
        pass


def main():
    port, root = int(sys.argv[1]), sys.argv[2]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), partial(Handler, directory=root))
    server.serve_forever()


if __name__ == "__main__":
    main()
