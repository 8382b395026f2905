"""Which file of an asset's web versions answers a media URL (names checked, never paths)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from lms.models import MediaAsset
from lms.services import ingest

# The only names under hls/: the master playlist, and each variant's playlist, init segment
# and media segments (see lms.services.transcode). Anything else is a 404.
HLS_NAME = re.compile(r"master\.m3u8|[0-9]{1,4}p/(?:index\.m3u8|init\.mp4|seg_[0-9]{5}\.m4s)")
HLS_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mp4": "video/mp4",
    ".m4s": "video/iso.segment",
}
THUMBNAIL_SPRITE = re.compile(r"thumbs_[0-9]{3}\.jpg")


def hls_mimetype(name: str) -> str | None:
    """The Content-Type of an HLS file name, or None when the name is not one of ours."""
    if not HLS_NAME.fullmatch(name):
        return None
    return HLS_TYPES[name[name.rindex(".") :]]


def rendition(asset: MediaAsset, height: int) -> dict[str, Any] | None:
    return next((r for r in asset.renditions or () if r["height"] == height), None)


class StoredVideo(Protocol):
    """What names an asset's files: a :class:`MediaAsset`, or a row with those columns."""

    @property
    def storage_key(self) -> str: ...
    @property
    def stream_dir(self) -> str | None: ...
    @property
    def renditions(self) -> list[Any] | None: ...


def playable_file(asset: StoredVideo) -> str:
    """The file under the media store a plain ``<video src>`` plays: the best rendition."""
    if asset.renditions and asset.stream_dir:
        return f"streams/{asset.stream_dir}/{asset.renditions[-1]['file']}"
    return f"{asset.storage_key[:2]}/{asset.storage_key}"


def thumbnail_track(asset: MediaAsset, sprite_url: Callable[[str], str]) -> str:
    """The stored thumbnail track with each sprite's name turned into its URL."""
    text = ingest.stream_path(asset, "thumbs.vtt").read_text(encoding="utf-8")
    return THUMBNAIL_SPRITE.sub(lambda match: sprite_url(match.group(0)), text)
