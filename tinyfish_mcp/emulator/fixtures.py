"""Pages the emulator serves itself under ``/_fixtures/``, for the Fetch API to extract.

Fetch never leaves the machine: a URL on the emulator's own host under ``/_fixtures/``
is read from here, so tests exercise real extraction of real documents. The same
documents are served over HTTP (``GET /_fixtures/{name}``) for anyone to look at.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from dataclasses import dataclass
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .config import EmulatorConfig

__all__ = ["FETCH_TIMEOUT_SECONDS", "Fixture", "fixture", "fixture_delay", "fixture_routes"]

# The documented per-URL backend timeout; the emulator scales it with time_scale.
FETCH_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Fixture:
    status: int
    content_type: str
    body: bytes
    name: str  # after redirects, so final_url can differ from url
    slow: bool = False


def _long_page() -> bytes:
    sections = []
    for i in range(1, 61):
        paragraphs = "".join(
            f"<p>Section {i}, paragraph {j}: the survey logged water temperature, salinity and the count "
            f"of each species in quadrat {i * 10 + j}, repeated at every low tide of the season.</p>"
            for j in range(1, 6)
        )
        sections.append(f"<h2>Survey section {i}</h2>{paragraphs}")
    return (
        "<!DOCTYPE html><html lang='en'><head><title>Full Season Survey Log</title>"
        "<meta name='description' content='Every survey section of the season, in one long page.'>"
        f"</head><body><main><h1>Full Season Survey Log</h1>{''.join(sections)}</main></body></html>"
    ).encode()


def _pdf() -> bytes:
    """A small valid PDF whose page says two lines of text."""
    stream = (
        b"BT /F1 18 Tf 72 720 Td (Quarterly Tide Report) Tj ET\n"
        b"BT /F1 12 Tf 72 690 Td (Average low tide fell by 4 cm compared with last year.) Tj ET\n"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> "
        b"/Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"endstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = (2).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    pixels = zlib.compress(b"\x00" + b"\x10\x80\xc0" * 2 + b"\x00" + b"\xc0\x80\x10" * 2)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


_BLOCKED = (
    b"<html><head><title>Attention Required</title></head><body><h1>Access denied</h1>"
    b"<p>Please complete the CAPTCHA to continue.</p></body></html>"
)
_DATA = {
    "station": "North Point",
    "readings": [{"time": "06:42", "height_m": -0.3}, {"time": "12:58", "height_m": 2.1}],
    "units": "metres",
}
_TEXT = b"Field notes, day 3.\nLow tide at 06:42. Counted 14 sea stars and 31 anemones.\n"


def fixture(name: str) -> Fixture:
    """The document served as ``/_fixtures/{name}`` (a 404 page when unknown)."""
    if name in ("article.html", "article"):
        body = resources.files(__package__).joinpath("data/article.html").read_bytes()
        return Fixture(200, "text/html; charset=utf-8", body, "article.html")
    if name == "long.html":
        return Fixture(200, "text/html; charset=utf-8", _long_page(), name)
    if name == "data.json":
        return Fixture(200, "application/json", json.dumps(_DATA).encode(), name)
    if name == "report.pdf":
        return Fixture(200, "application/pdf", _pdf(), name)
    if name == "notes.txt":
        return Fixture(200, "text/plain; charset=utf-8", _TEXT, name)
    if name == "image.png":
        return Fixture(200, "image/png", _png(), name)
    if name == "blocked.html":
        return Fixture(403, "text/html; charset=utf-8", _BLOCKED, name)
    if name == "redirect":
        return Fixture(200, "text/html; charset=utf-8", fixture("article.html").body, "article.html")
    if name == "slow.html":
        page = b"<html><head><title>Slow page</title></head><body><p>Finally loaded.</p></body></html>"
        return Fixture(200, "text/html; charset=utf-8", page, name, slow=True)
    return Fixture(404, "text/html; charset=utf-8", b"<html><body><h1>Not found</h1></body></html>", name)


def fixture_delay(config: EmulatorConfig) -> float:
    """How long the slow fixture takes: twice the (scaled) per-URL fetch timeout."""
    return 2 * FETCH_TIMEOUT_SECONDS * config.time_scale


async def serve_fixture(request: Request) -> Response:
    config: EmulatorConfig = request.app.state.config
    name = request.path_params["name"]
    if name == "redirect":
        return Response(status_code=302, headers={"Location": "/_fixtures/article.html"})
    doc = request.app.state.store.pages.get(name) or fixture(name)
    if doc.slow:
        await asyncio.sleep(fixture_delay(config))
    return Response(doc.body, status_code=doc.status, media_type=doc.content_type)


def fixture_routes() -> list[Route]:
    return [Route("/_fixtures/{name}", serve_fixture, methods=["GET"])]
