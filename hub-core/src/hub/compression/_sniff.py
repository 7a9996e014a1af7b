"""Tell a file's compression from its first bytes, for images, sound and video alike."""

from __future__ import annotations

from hub.compression._base import BytesLike

__all__ = ["sniff_compression"]

_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF
#: Sizes of the DIB headers Windows bitmaps use; they make "BM" at the start of a text file no bitmap.
_BMP_HEADER_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})
#: ISO base media brands of still images (HEIF, AVIF): an "ftyp" box that is not a movie.
_IMAGE_BRANDS = frozenset({b"avif", b"avis", b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
#: ISO base media brands of audio-only files (m4a, audiobooks): AAC, not a movie.
_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P "})
_RIFF_KINDS = {b"WEBP": "webp", b"WAVE": "wav", b"AVI ": "avi"}
_ID3_HEADER = 10


def _mpeg_audio(head: bytes) -> str | None:
    """ "aac" for an ADTS frame, "mp3" for an MPEG audio frame, from its 11-bit sync word and the bits after it."""
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    layer = (head[1] >> 1) & 0b11
    if layer == 0:
        return "aac" if head[1] & 0xF6 == 0xF0 else None
    version = (head[1] >> 3) & 0b11
    bitrate = head[2] >> 4
    sample_rate = (head[2] >> 2) & 0b11
    if version == 0b01 or bitrate == 0b1111 or sample_rate == 0b11:  # reserved values
        return None
    return "mp3"


def _after_id3(data: BytesLike) -> str:
    """An ID3v2 tag starts most mp3 files but may front flac or aac too: look past it when the data allows."""
    head = bytes(data[:_ID3_HEADER])
    size = 0
    for byte in head[6:10]:  # "synchsafe": 7 bits per byte
        size = (size << 7) | (byte & 0x7F)
    end = _ID3_HEADER + size + (_ID3_HEADER if len(head) > 5 and head[5] & 0x10 else 0)  # footer flag
    audio = bytes(data[end : end + 4])
    if audio == b"fLaC":
        return "flac"
    return _mpeg_audio(audio) or "mp3"


def sniff_compression(data: BytesLike) -> str | None:
    """The compression ``data`` is encoded with, judged by its magic bytes; None if not recognized.

    Knows every image codec (jpeg, png, gif, webp, bmp, tiff, jpeg2000 as JP2 or raw codestream) and, for the
    audio and video codecs wav, flac, ogg, mp3, aac (ADTS, and m4a by its brand), mp4 (any other ISO base media
    file, mov included), mkv, webm and avi. Only the header is checked: the rest may still be corrupt.
    """
    head = bytes(data[:64])
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"RIFF") and head[8:12] in _RIFF_KINDS:
        return _RIFF_KINDS[head[8:12]]
    if head.startswith(b"BM") and len(head) >= 18 and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "bmp"
    if head.startswith(_TIFF_MAGICS):
        return "tiff"
    if head.startswith((_JP2_SIGNATURE, b"\xff\x4f\xff\x51")):
        return "jpeg2000"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"ID3"):
        return _after_id3(data)
    if head[4:8] == b"ftyp" and len(head) >= 12:
        if head[8:12] in _AUDIO_BRANDS:
            return "aac"
        return None if head[8:12] in _IMAGE_BRANDS else "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML; the DocType element says which Matroska flavor
        return "webm" if b"\x42\x82" in head and b"webm" in head else "mkv"
    return _mpeg_audio(head)
