"""Audio in and out: WAV and raw PCM parsing, validation, downmix and resampling to 16 kHz mono, WAV writing."""

from __future__ import annotations

import io
import struct
import wave
from collections.abc import Mapping
from dataclasses import dataclass
from math import gcd

import numpy as np

from assistant.errors import ErrorCode, HearthError
from assistant.speech.engine import AudioFormat

STT_FORMAT = AudioFormat(16000, 2, 1)  # what speech recognition and VAD take
MAX_RATE = 192000
MAX_CHANNELS = 8

WAV_TYPES = frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/x-pn-wav"})
RAW_TYPES = frozenset({"application/octet-stream", "audio/pcm", "audio/raw", "audio/x-raw", ""})
L16_TYPES = frozenset({"audio/l16"})

# Compressed formats recognised by their first bytes, so they are refused clearly instead of heard as noise.
_CONTAINERS: tuple[tuple[bytes, str], ...] = (
    (b"ID3", "MP3"),
    (b"OggS", "Ogg"),
    (b"fLaC", "FLAC"),
    (b"\x1a\x45\xdf\xa3", "WebM/Matroska"),
    (b"FORM", "AIFF"),
)

_FORMAT_NAMES = {
    0x0001: "PCM",
    0x0002: "MS ADPCM",
    0x0003: "IEEE float",
    0x0006: "A-law",
    0x0007: "mu-law",
    0x0011: "IMA ADPCM",
    0x0055: "MP3",
    0xFFFE: "extensible",
}


@dataclass(frozen=True, slots=True)
class AudioLimits:
    """What a spoken request may be: at most `max_seconds` long, and not silent."""

    max_seconds: float = 30.0
    min_seconds: float = 0.1
    silence_dbfs: float = -50.0  # the loudest 30 ms window must be louder than this


@dataclass(frozen=True, slots=True)
class Clip:
    """Audio ready for speech recognition (16 kHz, 16-bit, mono PCM) and what it was before conversion."""

    pcm: bytes
    source_rate: int = 16000
    source_channels: int = 1

    @property
    def format(self) -> AudioFormat:
        return STT_FORMAT

    @property
    def seconds(self) -> float:
        return STT_FORMAT.seconds(len(self.pcm))


def bad_audio(message: str, **details: object) -> HearthError:
    return HearthError(ErrorCode.BAD_AUDIO, message, dict(details))


# -- decoding ------------------------------------------------------------------------------------------------------
def decode_wav(data: bytes) -> tuple[np.ndarray, int]:
    """16-bit PCM samples shaped (frames, channels) and the sample rate of a RIFF/WAVE file, or BAD_AUDIO."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise bad_audio("The audio is not a WAV file (no RIFF/WAVE header). Send audio/wav or raw 16-bit PCM.")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None  # tag, channels, rate, bits
    payload: bytes | None = None
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = data[pos + 8 : pos + 8 + size]  # a streamed WAV may claim more than it holds: take what is there
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise bad_audio("The WAV file has a broken fmt chunk.")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID
                (tag,) = struct.unpack_from("<H", body, 24)
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            payload = body
            break
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise bad_audio("The WAV file has no fmt chunk.")
    if payload is None:
        raise bad_audio("The WAV file has no data chunk.")
    tag, channels, rate, bits = fmt
    if tag != 0x0001:
        name = _FORMAT_NAMES.get(tag, f"format 0x{tag:04x}")
        raise bad_audio(f"Unsupported WAV encoding: {name}. Send 16-bit PCM.", encoding=name, bits=bits)
    if bits != 16:
        raise bad_audio(f"Unsupported WAV encoding: {bits}-bit PCM. Send 16-bit PCM.", encoding="PCM", bits=bits)
    _check_layout(rate, channels)
    return _samples(payload, channels, "<"), rate


def decode_pcm(data: bytes, rate: int, channels: int = 1, big_endian: bool = False) -> np.ndarray:
    """Raw 16-bit PCM (little-endian unless told) shaped (frames, channels)."""
    _check_layout(rate, channels)
    return _samples(data, channels, ">" if big_endian else "<")


def _check_layout(rate: int, channels: int) -> None:
    if not 1000 <= rate <= MAX_RATE:
        raise bad_audio(f"Unsupported sample rate {rate} Hz; use 8000-{MAX_RATE} Hz (16000 is best).", rate=rate)
    if not 1 <= channels <= MAX_CHANNELS:
        raise bad_audio(f"Unsupported channel count {channels}; use 1 (mono) or 2.", channels=channels)


def _samples(payload: bytes, channels: int, order: str) -> np.ndarray:
    frame = 2 * channels
    usable = len(payload) - len(payload) % frame  # a cut-off last frame is dropped
    samples = np.frombuffer(payload[:usable], dtype=np.dtype(f"{order}i2"))
    return samples.reshape(-1, channels).astype(np.int16, copy=False)


# -- conversion ----------------------------------------------------------------------------------------------------
def to_float(samples: np.ndarray) -> np.ndarray:
    """int16 samples (any shape) to float32 in [-1, 1); (frames, channels) is downmixed to mono."""
    data = samples.astype(np.float32) / 32768.0
    if data.ndim == 2:
        data = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return np.ascontiguousarray(data, dtype=np.float32)


def pcm_to_float(pcm: bytes) -> np.ndarray:
    """16-bit little-endian mono PCM to float32."""
    usable = len(pcm) - len(pcm) % 2
    return np.frombuffer(pcm[:usable], dtype="<i2").astype(np.float32) / 32768.0


def float_to_pcm(audio: np.ndarray) -> bytes:
    """float32 in [-1, 1] to 16-bit little-endian PCM."""
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def resample(audio: np.ndarray, rate: int, target: int = STT_FORMAT.rate) -> np.ndarray:
    """Polyphase resampling (with its anti-aliasing filter) of mono float32 audio."""
    if rate == target or audio.size == 0:
        return audio.astype(np.float32, copy=False)
    from scipy.signal import resample_poly  # imported on first use: it takes most of a second

    common = gcd(rate, target)
    out = resample_poly(audio, target // common, rate // common)
    return np.asarray(out, dtype=np.float32)


def convert(pcm: bytes, fmt: AudioFormat, target: AudioFormat = STT_FORMAT) -> bytes:
    """16-bit PCM in any rate and channel count to `target` (16-bit mono at its rate)."""
    if fmt == target:
        return pcm
    if fmt.width != 2:
        raise bad_audio(f"Unsupported sample width {fmt.width * 8} bits; send 16-bit PCM.")
    samples = decode_pcm(pcm, fmt.rate, fmt.channels)
    return float_to_pcm(resample(to_float(samples), fmt.rate, target.rate))


def loudest_dbfs(pcm: bytes, rate: int = STT_FORMAT.rate, window_s: float = 0.03) -> float:
    """The level of the loudest `window_s` window of 16-bit mono PCM, in dB below full scale."""
    audio = pcm_to_float(pcm)
    if audio.size == 0:
        return -120.0
    step = max(1, int(rate * window_s))
    usable = audio[: audio.size - audio.size % step] if audio.size >= step else audio
    windows = usable.reshape(-1, step) if usable.size >= step else usable.reshape(1, -1)
    rms = float(np.sqrt(np.max(np.mean(windows.astype(np.float64) ** 2, axis=1))))
    return 20.0 * np.log10(max(rms, 1e-6))


# -- requests ------------------------------------------------------------------------------------------------------
def parse_media_type(header: str) -> tuple[str, dict[str, str]]:
    """'audio/L16; rate=16000' -> ('audio/l16', {'rate': '16000'})."""
    kind, *rest = header.split(";")
    params: dict[str, str] = {}
    for part in rest:
        key, sep, value = part.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return kind.strip().lower(), params


def _int_param(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_audio(f"{name} must be a whole number, not {raw!r}.", field=name) from None


def load_clip(
    body: bytes,
    content_type: str = "audio/wav",
    params: Mapping[str, str] | None = None,
    limits: AudioLimits | None = None,
) -> Clip:
    """A request body as 16 kHz mono audio, validated.

    WAV (RIFF, 16-bit PCM, any rate, any channel count) is recognised by its header whatever the content type.
    Raw PCM: `application/octet-stream` (little-endian; `rate` and `channels` from `params`, default 16000 and 1)
    or `audio/L16;rate=N;channels=N` (big-endian as RFC 2586 says, unless `endianness=little-endian`).
    Raises BAD_AUDIO (422) with a message that says what is wrong, or UNSUPPORTED_MEDIA (415).
    """
    params = dict(params or {})
    kind, type_params = parse_media_type(content_type or "")
    if not body:
        raise bad_audio("The audio is empty.")
    container = next((name for magic, name in _CONTAINERS if body.startswith(magic)), None)
    if container is None and body[4:8] == b"ftyp":
        container = "MP4/M4A"
    if container is not None:
        raise HearthError(
            ErrorCode.UNSUPPORTED_MEDIA,
            f"Cannot read {container} audio. Send audio/wav (16-bit PCM) or raw 16-bit PCM.",
            {"container": container},
        )
    if body[:4] == b"RIFF" or kind in WAV_TYPES:
        samples, rate = decode_wav(body)
    elif kind in L16_TYPES:
        merged = {**type_params, **params}
        little = merged.get("endianness", "big-endian").lower().startswith("little")
        rate = _int_param(merged, "rate", STT_FORMAT.rate)
        samples = decode_pcm(body, rate, _int_param(merged, "channels", 1), big_endian=not little)
    elif kind in RAW_TYPES:
        rate = _int_param(params, "rate", STT_FORMAT.rate)
        samples = decode_pcm(body, rate, _int_param(params, "channels", 1))
    else:
        raise HearthError(
            ErrorCode.UNSUPPORTED_MEDIA,
            f"Cannot read {kind} audio. Send audio/wav (16-bit PCM) or raw 16-bit PCM as "
            "application/octet-stream with ?rate=16000.",
            {"content_type": kind},
        )
    channels = samples.shape[1] if samples.ndim == 2 else 1
    limits = limits or AudioLimits()
    frames = samples.shape[0]
    if frames == 0:
        raise bad_audio("The audio is empty.")
    seconds = frames / rate
    if seconds > limits.max_seconds:
        raise bad_audio(
            f"The audio is {seconds:.1f} s long; the limit is {limits.max_seconds:g} s.",
            seconds=round(seconds, 2),
            limit=limits.max_seconds,
        )
    if seconds < limits.min_seconds:
        raise bad_audio(
            f"The audio is too short ({seconds * 1000:.0f} ms); say a whole command.", seconds=round(seconds, 3)
        )
    pcm = float_to_pcm(resample(to_float(samples), rate)) if (rate, channels) != (16000, 1) else samples.tobytes()
    if loudest_dbfs(pcm) < limits.silence_dbfs:
        raise bad_audio("The audio is silent; no speech was heard.", seconds=round(seconds, 2))
    return Clip(pcm, rate, channels)


# -- writing -------------------------------------------------------------------------------------------------------
def wav_bytes(pcm: bytes, fmt: AudioFormat = STT_FORMAT) -> bytes:
    """A complete WAV file holding `pcm`."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(fmt.channels)
        wav.setsampwidth(fmt.width)
        wav.setframerate(fmt.rate)
        wav.writeframes(pcm)
    return out.getvalue()
