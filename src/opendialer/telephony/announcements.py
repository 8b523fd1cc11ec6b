"""What a campaign's abandon message refers to, read one way by the API and the backends.

A reference is a SIP URI (an announcement server the call is sent to), ``announcement:NAME``
(a message the backend ships: ``abandoned``), or an audio file that rtpengine plays: an
absolute path or a ``file:`` URI of a WAV file on the host where rtpengine runs.
"""

import wave
from pathlib import Path

DEFAULT_ANNOUNCEMENT = "announcement:abandoned"
DEFAULT_ANNOUNCEMENT_FILE = Path(__file__).parent / "sip" / "sounds" / "abandoned.wav"


class UnreadableAnnouncement(ValueError):
    """A file reference that is not a readable WAV file; the message says why."""


def announcement_path(reference: str) -> Path | None:
    """The file a reference names, or ``None`` for a SIP URI or a shipped message."""
    if reference.startswith(("sip:", "sips:", "announcement:")):
        return None
    return Path(reference.removeprefix("file://").removeprefix("file:"))


def check_announcement(reference: str) -> None:
    """Refuse a file reference that is not absolute or not a readable WAV file (now)."""
    path = announcement_path(reference)
    if path is None:
        return
    if not path.is_absolute():
        raise UnreadableAnnouncement(f"{reference!r}: an audio file must be an absolute path")
    try:
        with wave.open(str(path), "rb") as audio:
            if audio.getnframes() == 0:
                raise UnreadableAnnouncement(f"{reference!r}: the WAV file has no audio")
    except (OSError, wave.Error, EOFError) as exc:
        raise UnreadableAnnouncement(f"{reference!r}: not a readable WAV file ({exc})") from exc
