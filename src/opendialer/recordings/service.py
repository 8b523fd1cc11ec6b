"""Call recordings: WAV files in the storage directory, their metadata rows, signed links.

Files live under ``settings.recordings_dir``; a row keeps the path relative to it, so the
directory can move. A recording is *available* while its row is not deleted and its file exists.
"""

import array
import math
import shutil
import sys
import time
import uuid
import wave
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session, object_session

from opendialer.accounts.service import link_secret
from opendialer.config import Settings
from opendialer.errors import BadRequest, NotFound
from opendialer.models import CallAttempt, Contact, ContactPhone, User
from opendialer.models import Recording as Recording
from opendialer.scoping import Scope, get_owned
from opendialer.security import sign_path, verify_signed_path
from opendialer.telephony import CallId

AUDIO_PATH = "/api/v1/recordings/{id}/audio"
SAMPLE_RATE = 8000
TONE_HZ = 400  # 20 samples per period at 8 kHz: one period repeats exactly
TONE_AMPLITUDE = 800  # quiet: about -32 dBFS
COPY_CHUNK = 1 << 16


# Files ------------------------------------------------------------------------------------


def _tone_second() -> bytes:
    """One second of a quiet 400 Hz tone, 16-bit little-endian mono (WAV's byte order)."""
    samples = array.array(
        "h",
        (
            round(TONE_AMPLITUDE * math.sin(2 * math.pi * TONE_HZ * n / SAMPLE_RATE))
            for n in range(SAMPLE_RATE)
        ),
    )
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def write_wav(path: Path, seconds: float) -> int:
    """A real WAV file (8 kHz mono 16-bit) with a quiet tone of ``seconds``; returns its size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = max(0, round(seconds * SAMPLE_RATE))
    second = _tone_second()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        whole, rest = divmod(frames, SAMPLE_RATE)
        for _ in range(whole):
            out.writeframesraw(second)
        out.writeframes(second[: rest * 2])
    return path.stat().st_size


def wav_seconds(path: Path) -> float:
    """The playing time of a WAV file; ``BadRequest`` when it is not one."""
    try:
        with wave.open(str(path), "rb") as audio:
            return audio.getnframes() / audio.getframerate()
    except (wave.Error, EOFError, ZeroDivisionError) as exc:
        raise BadRequest(f"Not a readable WAV file: {exc}", code="invalid_audio") from exc


def new_voice_id() -> str:
    return uuid.uuid4().hex


def relative_path(voice_id: str, at: datetime) -> str:
    return f"{at:%Y/%m/%d}/{voice_id}.wav"


def file_path(settings: Settings, recording: Recording) -> Path:
    """The absolute file of a recording; never outside the storage directory."""
    root = settings.recordings_dir.resolve()
    path = (root / recording.path).resolve()
    if not path.is_relative_to(root):
        raise NotFound("recording", recording.id)
    return path


def is_available(settings: Settings, recording: Recording) -> bool:
    return recording.deleted_at is None and file_path(settings, recording).is_file()


# Links ------------------------------------------------------------------------------------


def audio_path(recording_id: int) -> str:
    return AUDIO_PATH.format(id=recording_id)


def download_url(settings: Settings, recording: Recording, base_url: str) -> str:
    """The expiring link anyone holding it can GET (no credentials in it, HMAC-signed with the
    tenant's link key). ``recording`` must belong to a session: it reads the key's generation."""
    session = object_session(recording)
    if session is None:
        raise RuntimeError("download_url needs a recording loaded in a session")
    path = audio_path(recording.id)
    expires = int(time.time()) + settings.recording_link_ttl_seconds
    secret = link_secret(
        session, settings.secret_key.get_secret_value(), Scope.system(recording.tenant_id)
    )
    return f"{base_url.rstrip('/')}{path}?{sign_path(secret, path, expires)}"


def check_link(
    session: Session, settings: Settings, recording_id: int, expires: int, signature: str
) -> bool:
    recording = session.get(Recording, recording_id)
    if recording is None:
        return False
    secret = link_secret(
        session, settings.secret_key.get_secret_value(), Scope.system(recording.tenant_id)
    )
    return verify_signed_path(secret, audio_path(recording_id), expires, signature, time.time())


# Rows -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordedFile:
    """A file written for a call that is not linked to its attempt yet."""

    voice_id: str
    path: str
    started_at: datetime
    seconds: float
    size: int


def add_recording(
    session: Session,
    scope: Scope,
    recorded: RecordedFile,
    *,
    attempt: CallAttempt | None = None,
    contact_id: int | None = None,
    user_id: int | None = None,
) -> Recording:
    recording = Recording(
        tenant_id=scope.tenant_id,
        call_attempt_id=attempt.id if attempt else None,
        contact_id=contact_id if contact_id is not None else (attempt and attempt.contact_id),
        user_id=user_id if user_id is not None else (attempt and attempt.user_id),
        voice_id=recorded.voice_id,
        recorded_at=recorded.started_at,
        duration_seconds=recorded.seconds,
        size_bytes=recorded.size,
        path=recorded.path,
    )
    session.add(recording)
    session.flush()
    return recording


class CallRecorder:
    """The :class:`~opendialer.telephony.base.RecordingHook` for backends that leave the audio
    to the dialer (the simulator): it writes a WAV file of the recorded (bridged) time when the
    recording stops, and the engine links it to the call's attempt when the call ends."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._started: dict[CallId, datetime] = {}
        self._files: dict[CallId, RecordedFile] = {}

    def recording_started(self, call_id: CallId, at: datetime) -> None:
        self._started[call_id] = at

    def recording_stopped(self, call_id: CallId, at: datetime) -> None:
        started = self._started.pop(call_id, None)
        if started is None:
            return
        seconds = max(0.0, (at - started).total_seconds())
        voice_id = new_voice_id()
        relative = relative_path(voice_id, started)
        size = write_wav(self.directory / relative, seconds)
        self._files[call_id] = RecordedFile(voice_id, relative, started, seconds, size)

    def store_audio(self, call_id: CallId, wav: Path, started_at: datetime) -> None:
        """A backend's finished WAV (the :class:`~opendialer.telephony.base.AudioStore`):
        moved into storage, linked to the call's attempt when the call ends."""
        seconds = wav_seconds(wav)
        voice_id = new_voice_id()
        relative = relative_path(voice_id, started_at)
        target = self.directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(wav, target)
        size = target.stat().st_size
        self._files[call_id] = RecordedFile(voice_id, relative, started_at, seconds, size)

    def attach(self, session: Session, call_id: CallId, attempt: CallAttempt) -> Recording | None:
        """The metadata row for the call's file, if it was recorded (in the caller's
        transaction, the one that finishes the attempt)."""
        return link_recording(session, self.take(call_id), attempt)

    def take(self, call_id: CallId) -> RecordedFile | None:
        """The call's recorded file, once (for :func:`link_recording` in a later transaction)."""
        return self._files.pop(call_id, None)


def link_recording(
    session: Session, recorded: RecordedFile | None, attempt: CallAttempt
) -> Recording | None:
    if recorded is None:
        return None
    return add_recording(session, Scope.system(attempt.tenant_id), recorded, attempt=attempt)


# Uploads ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UploadRefs:
    call_attempt_id: int | None = None
    contact_id: int | None = None
    user_id: int | None = None
    recorded_at: datetime | None = None


def _check_refs(session: Session, scope: Scope, refs: UploadRefs) -> CallAttempt | None:
    attempt = None
    if refs.call_attempt_id is not None:
        attempt = get_owned(session, CallAttempt, scope, refs.call_attempt_id, "call_attempt")
    if refs.contact_id is not None:
        get_owned(session, Contact, scope, refs.contact_id, "contact")
    if refs.user_id is not None:
        get_owned(session, User, scope, refs.user_id, "user")
    return attempt


def store_upload(
    session: Session, settings: Settings, scope: Scope, file: IO[bytes], refs: UploadRefs
) -> Recording:
    """A PBX's recording: checked (references, WAV), copied into storage, then its row.

    A failure removes the copied file, so nothing half-written stays behind.
    """
    attempt = _check_refs(session, scope, refs)
    started = refs.recorded_at or (attempt.answered_at if attempt else None) or datetime.now(UTC)
    voice_id = new_voice_id()
    relative = relative_path(voice_id, started)
    target = settings.recordings_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with target.open("wb") as out:
            shutil.copyfileobj(file, out, COPY_CHUNK)
        seconds = wav_seconds(target)
        recorded = RecordedFile(voice_id, relative, started, seconds, target.stat().st_size)
        return add_recording(
            session,
            scope,
            recorded,
            attempt=attempt,
            contact_id=refs.contact_id,
            user_id=refs.user_id,
        )
    except BaseException:
        target.unlink(missing_ok=True)
        raise


# Search -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordingFilter:
    contact_id: int | None = None
    e164: str | None = None
    user_id: int | None = None
    day: date | None = None
    moment: datetime | None = None  # recordings that started within this second


def recordings_query(scope: Scope, found: RecordingFilter, tz: ZoneInfo) -> Select[Recording]:
    """The tenant's recordings matching every filter; ``day`` is a calendar day in ``tz``."""
    stmt = select(Recording).where(Recording.tenant_id == scope.tenant_id)
    if found.contact_id is not None:
        stmt = stmt.where(Recording.contact_id == found.contact_id)
    if found.user_id is not None:
        stmt = stmt.where(Recording.user_id == found.user_id)
    if found.e164 is not None:
        stmt = stmt.where(_with_number(scope, found.e164))
    if found.day is not None:
        start = datetime.combine(found.day, datetime.min.time(), tz)
        stmt = stmt.where(
            Recording.recorded_at >= start, Recording.recorded_at < start + timedelta(days=1)
        )
    if found.moment is not None:
        stmt = stmt.where(
            Recording.recorded_at >= found.moment,
            Recording.recorded_at < found.moment + timedelta(seconds=1),
        )
    return stmt


def _with_number(scope: Scope, e164: str) -> ColumnElement[bool]:
    """Recordings of a call to the number, or of a contact who has the number."""
    attempts = select(CallAttempt.id).where(
        CallAttempt.tenant_id == scope.tenant_id, CallAttempt.b_number == e164
    )
    owners = select(ContactPhone.contact_id).where(
        ContactPhone.tenant_id == scope.tenant_id, ContactPhone.e164 == e164
    )
    return or_(Recording.call_attempt_id.in_(attempts), Recording.contact_id.in_(owners))


def search(
    session: Session, scope: Scope, found: RecordingFilter, tz: ZoneInfo, limit: int = 1000
) -> list[Recording]:
    stmt = recordings_query(scope, found, tz).order_by(Recording.recorded_at, Recording.id)
    return list(session.scalars(stmt.limit(limit)))


def get_recording(session: Session, scope: Scope, recording_id: int) -> Recording:
    return get_owned(session, Recording, scope, recording_id, "recording")


# Retention --------------------------------------------------------------------------------


def purge_expired(
    session: Session, settings: Settings, now: datetime, scope: Scope | None = None
) -> int:
    """Delete the files of recordings older than the retention period (one tenant's, or all);
    the rows stay, marked deleted, so searches still list them with ``available`` no."""
    if settings.recording_retention_days <= 0:
        return 0
    cutoff = now - timedelta(days=settings.recording_retention_days)
    stmt = select(Recording).where(Recording.deleted_at.is_(None), Recording.recorded_at < cutoff)
    if scope is not None:
        stmt = stmt.where(Recording.tenant_id == scope.tenant_id)
    count = 0
    for recording in session.scalars(stmt).all():
        delete_file(settings, recording, now)
        count += 1
    session.flush()
    return count


def delete_file(settings: Settings, recording: Recording, now: datetime) -> None:
    file_path(settings, recording).unlink(missing_ok=True)
    recording.deleted_at = now
