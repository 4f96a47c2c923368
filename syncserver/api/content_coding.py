"""Compressed request bodies: a till may gzip its push (``Content-Encoding: gzip``).

A journal compresses ~7x (JSON with repeated keys): a 500-entry push of ~1 MB goes over a
store's uplink as ~130 KB, for ~20 ms of the till's CPU and ~4 ms of HQ's. The server says it
takes gzip with ``Accept-Encoding: gzip`` on its sync answers (RFC 7694); a till that never
saw it sends plain JSON, so tills and servers of any age work together.

The compressed body is bounded by the route's body limit (the request guard), the
decompressed one here: a small body that inflates beyond ``limit`` is refused (413) after
at most ``limit`` bytes were produced, never held whole.
"""

from __future__ import annotations

import zlib

from syncserver.api.limits import describe_bytes
from syncserver.errors import MalformedError, PayloadTooLargeError, UnsupportedEncodingError

__all__ = ["ACCEPTED_CODINGS", "decoded_body"]

ACCEPTED_CODINGS = "gzip"
"""What ``Accept-Encoding`` on the sync answers names."""

_GZIP_WINDOW = 16 + zlib.MAX_WBITS
"""zlib's window-bits value for the gzip container (header and CRC checked)."""


def decoded_body(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """``body`` as the JSON it carries: as sent (no coding, or ``identity``), or gunzipped
    to at most ``limit`` bytes. Raises 415 for another coding, 422 for a body that is not
    gzip, 413 for one that inflates beyond ``limit``."""
    coding = (content_encoding or "identity").strip().lower()
    if coding == "identity":
        return body
    if coding not in ("gzip", "x-gzip"):
        raise UnsupportedEncodingError(
            f"Content-Encoding {coding!r} is not taken here; send gzip or no encoding"
        )
    inflater = zlib.decompressobj(_GZIP_WINDOW)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise MalformedError(f"body: not valid gzip ({error}); resend it uncompressed") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLargeError(
            f"the request body inflates beyond what this endpoint takes ({describe_bytes(limit)}): "
            "send fewer entries per push"
        )
    if not inflater.eof or inflater.unused_data:
        raise MalformedError("body: the gzip stream is cut short or followed by other data")
    return out
