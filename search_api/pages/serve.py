"""Serving a page that ships as package data (search_api/pages/<name>/): HTML, CSS, plain
JavaScript and vendored libraries, no build step and nothing from another origin, so
`pip install .` is enough and it works offline.

Only the files a page lists are ever served (never a directory listing, so nothing else that ends
up in the folder leaks), each with an ETag and `Cache-Control: no-cache`, and the page itself with
its Content-Security-Policy.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Final

from fastapi import Request
from fastapi.responses import Response

from search_api.errors import ApiError

PAGES_PACKAGE: Final = "search_api.pages"
HTML: Final = "text/html; charset=utf-8"


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


@functools.cache
def read_asset(folder: str, name: str, media_type: str) -> Asset:
    """Read once per process: the files are part of the installed package and never change under it."""
    body = resources.files(PAGES_PACKAGE).joinpath(folder, *name.split("/")).read_bytes()
    return Asset(body, media_type, '"' + hashlib.sha256(body).hexdigest()[:20] + '"')


def serve(request: Request, asset: Asset, *, csp: str | None = None) -> Response:
    # `no-cache` means "revalidate", not "do not store": a reload costs a 304 per file, and an
    # upgraded service is picked up at once instead of after some max-age.
    headers = {"ETag": asset.etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if csp is not None:
        headers["Content-Security-Policy"] = csp
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@dataclass(frozen=True)
class StaticPage:
    """One page: its folder under search_api/pages/, the files it may load, and its CSP."""

    folder: str
    assets: Mapping[str, str]  # file name -> media type
    csp: str
    index: str = "index.html"

    def page(self, request: Request) -> Response:
        return serve(request, read_asset(self.folder, self.index, HTML), csp=self.csp)

    def asset(self, request: Request, name: str) -> Response:
        media_type = self.assets.get(name)
        if media_type is None:
            raise ApiError(404, f"no {self.folder} file {name!r}", param="name", location="path")
        return serve(request, read_asset(self.folder, name, media_type))
