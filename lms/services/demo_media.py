"""Demo lectures synthesised with PyAV: a camp-coloured card with a moving progress bar and
speech-like sound, in the containers and codecs downloaded courseware comes in.

``lms demo`` fills the demo camps with them; the tests and the bench use them as real input
for the ingest pipeline (including a badly muxed file, ``interleave=False``).
"""

from __future__ import annotations

import array
import functools
import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av

# The demo generator's codecs by file type: what a downloaded course file typically holds.
VideoCodec = Literal["libvpx", "libx264", "mpeg4"]
AudioCodec = Literal["libopus", "aac", "libmp3lame"]
DEMO_CODECS: dict[str, tuple[str, VideoCodec, AudioCodec]] = {
    ".webm": ("webm", "libvpx", "libopus"),
    ".mp4": ("mp4", "libx264", "aac"),
    ".avi": ("avi", "mpeg4", "libmp3lame"),  # old downloaded courseware: MPEG-4 Part 2 + MP3
}
SPEECH_RATE = 48_000


def generate_demo_video(
    path: Path,
    *,
    seconds: int,
    color: str,
    fps: int = 10,
    size: tuple[int, int] = (320, 180),
    interleave: bool = True,
) -> Path:
    """Encode a demo lecture: a camp-coloured card with a moving progress bar, and speech.

    The sound is speech-like (syllables on a voice's pitch, words and pauses), and audio and
    video are muxed in time order, as a real recording is (``interleave=False`` writes all
    the video first, like the broken files the ingest pipeline must repair). ``.webm`` gives
    VP8 + Opus, ``.mp4`` H.264 + AAC, ``.avi`` MPEG-4 Part 2 + MP3.
    """
    width, height = size
    container_format, video_codec, audio_codec = DEMO_CODECS[path.suffix.lower()]
    speech = _speech_samples(seconds, seed=color)
    box, bar = max(8, height // 5), max(4, height // 15)
    card = _Card(width, height, color)
    with av.open(str(path), "w", format=container_format) as output:
        video = output.add_stream(video_codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.bit_rate = max(120_000, width * height * fps // 8)
        video.codec_context.gop_size = 4 * fps  # a keyframe every 4 s, as cameras and editors do
        options: dict[str, dict[str, str]] = {
            "libx264": {"preset": "ultrafast"},
            "libvpx": {"deadline": "realtime", "cpu-used": "8"},
        }
        video.options = dict(options.get(video_codec, {}))
        audio = output.add_stream(audio_codec, rate=SPEECH_RATE)
        audio.layout = "mono"
        track = _AudioTrack(audio, speech)
        pending_video: list[list[av.Packet[Any]]] = []
        frames = seconds * fps
        for index in range(frames):
            pulse = (index // fps) % 2
            frame = card.frame(
                bar=(0, height - 2 * bar, width * (index + 1) // frames, bar),
                box=(box // 2 + pulse * box, box // 2, box, box),
            )
            frame.pts = index
            packets = video.encode(frame)
            if interleave:
                output.mux(packets + track.until((index + 1) / fps))
            else:
                pending_video.append(packets)
        if not interleave:  # all the video, then all the audio
            for packets in pending_video:
                output.mux(packets)
        output.mux(video.encode(None))
        output.mux(track.until(float("inf")))
    return path


def _audio_packets(
    stream: av.AudioStream, samples: bytes
) -> Iterator[tuple[float, list[av.Packet[Any]]]]:
    """Encode mono float samples frame by frame, yielding (end time, packets)."""
    size = stream.codec_context.frame_size or 960
    step = 4 * size
    for offset in range(0, len(samples), step):
        chunk = samples[offset : offset + step].ljust(step, b"\0")
        frame = av.AudioFrame(format="flt", layout="mono", samples=size)
        frame.planes[0].update(chunk)
        frame.sample_rate = SPEECH_RATE
        frame.pts = offset // 4
        frame.time_base = Fraction(1, SPEECH_RATE)
        yield (offset // 4 + size) / SPEECH_RATE, stream.encode(frame)
    yield float("inf"), stream.encode(None)


class _Card:
    """Frames of a coloured card with white rectangles, drawn straight in yuv420p (no
    conversion from RGB for every frame)."""

    def __init__(self, width: int, height: int, color: str) -> None:
        red, green, blue = bytes.fromhex(color.lstrip("#"))
        # BT.601, limited range: what the encoder and players assume for this size.
        self.yuv = (
            round(16 + (65.481 * red + 128.553 * green + 24.966 * blue) / 255),
            round(128 + (-37.797 * red - 74.203 * green + 112.0 * blue) / 255),
            round(128 + (112.0 * red - 93.786 * green - 18.214 * blue) / 255),
        )
        self.width, self.height = width, height

    def frame(self, **rectangles: tuple[int, int, int, int]) -> av.VideoFrame:
        """A frame with white ``(x, y, width, height)`` rectangles on the card."""
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        for plane_index, (value, white) in enumerate(zip(self.yuv, (235, 128, 128), strict=True)):
            plane = frame.planes[plane_index]
            scale = 1 if plane_index == 0 else 2
            rows = -(-self.height // scale)
            data = bytearray([value]) * (plane.line_size * rows)
            for x, y, w, h in rectangles.values():
                x, y, w, h = x // scale, y // scale, max(0, w // scale), max(1, h // scale)
                for row in range(y, min(rows, y + h)):
                    start = row * plane.line_size + x
                    data[start : start + w] = bytes([white]) * w
            plane.update(bytes(data))
        return frame


class _AudioTrack:
    """Encoded audio handed out in time order, so it can be muxed beside the video."""

    def __init__(self, stream: av.AudioStream, samples: bytes) -> None:
        self._packets = _audio_packets(stream, samples)
        self._next = next(self._packets, None)

    def until(self, moment: float) -> list[av.Packet[Any]]:
        """The packets of the audio that ends by ``moment`` (everything left for ``inf``)."""
        taken: list[av.Packet[Any]] = []
        while self._next is not None and self._next[0] <= moment:
            taken += self._next[1]
            self._next = next(self._packets, None)
        return taken


@functools.cache
def _syllables() -> tuple[bytes, ...]:
    """Eight voiced syllables (a pitch glide with two formants), 48 kHz mono float32."""
    result = []
    for index in range(8):
        length = int(SPEECH_RATE * (0.16 + 0.02 * (index % 4)))
        pitch = 105 + 12 * index
        formants = (450 + 60 * index, 1100 + 130 * (7 - index))
        harmonics = [
            (k, sum(math.exp(-(((k * pitch - f) / 180) ** 2)) for f in formants) + 0.15 / k)
            for k in range(1, 16)
        ]
        phase = 0.0
        samples = array.array("f")
        for n in range(length):
            t = n / length
            f0 = pitch * (1.1 - 0.2 * t)
            phase += 2 * math.pi * f0 / SPEECH_RATE
            envelope = math.sin(math.pi * t) ** 0.6
            value = sum(weight * math.sin(k * phase) for k, weight in harmonics)
            samples.append(0.08 * envelope * value)
        result.append(samples.tobytes())
    return tuple(result)


def _speech_samples(seconds: int, seed: str) -> bytes:
    """Sentences of words of syllables with pauses between them, ``seconds`` long."""
    import random

    rng = random.Random(seed)  # noqa: S311 — a repeatable demo, not a secret
    syllables = _syllables()
    total = seconds * SPEECH_RATE * 4
    out = bytearray()
    while len(out) < total:
        for _word in range(rng.randint(4, 8)):
            for _syllable in range(rng.randint(1, 3)):
                out += rng.choice(syllables)
            out += bytes(4 * int(SPEECH_RATE * rng.uniform(0.05, 0.12)))
        out += bytes(4 * int(SPEECH_RATE * rng.uniform(0.35, 0.7)))
    return bytes(out[:total])
