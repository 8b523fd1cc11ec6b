"""Call-progress tones in a callee's audio: special-information tones and fax.

Each 20 ms frame's power at the tones' frequencies is measured with the Goertzel form of the DFT
(one complex dot product per frequency, numpy); a frequency *holds* a frame when it carries most
of the frame's energy. A SIT (ITU-T E.180: 913.8, 1370.6 and 1776.7 Hz, 274-380 ms each) is all
three held in turn; a fax is the answering fax's CED (2100 Hz) or the calling fax's CNG (1100 Hz)
held for half a second.
"""

from enum import StrEnum

import numpy as np

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms
SIT_HZ = (913.8, 1370.6, 1776.7)
CED_HZ, CNG_HZ = 2100.0, 1100.0
_DOMINANT = 0.6  # share of a frame's energy at one frequency
_SIT_FRAMES = 10  # 200 ms of each SIT segment (the shortest is 274 ms)
_FAX_FRAMES = 25  # 500 ms
_SILENT = 1e3  # frame energy below this (about -60 dBFS) holds nothing


class Tone(StrEnum):
    SIT = "special information tone"
    FAX = "fax"


def _basis(frequencies: tuple[float, ...]) -> np.ndarray:
    n = np.arange(FRAME_SAMPLES)
    basis: np.ndarray = np.exp(-2j * np.pi * np.outer(frequencies, n) / SAMPLE_RATE)
    return basis


class ToneDetector:
    """Feed 20 ms frames of 16-bit PCM; the first tone recognised is returned (once)."""

    def __init__(self) -> None:
        self._basis_matrix = _basis((*SIT_HZ, CED_HZ, CNG_HZ))
        self._held = [0] * 5  # frames each frequency held: the three SIT tones, CED, CNG
        self.found: Tone | None = None

    def feed(self, frame: bytes) -> Tone | None:
        if self.found is not None or len(frame) != 2 * FRAME_SAMPLES:
            return None
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float64)
        energy = float(samples @ samples)
        if energy < _SILENT:
            return None
        # |X(f)|^2 * 2/N is the energy of a sinusoid at f (Parseval); compare to the frame's.
        shares = np.abs(self._basis_matrix @ samples) ** 2 * 2 / FRAME_SAMPLES / energy
        for index, share in enumerate(shares):
            if share >= _DOMINANT:
                self._held[index] += 1
        self.found = self._verdict()
        return self.found

    def _verdict(self) -> Tone | None:
        if all(held >= _SIT_FRAMES for held in self._held[:3]):
            return Tone.SIT
        if max(self._held[3:]) >= _FAX_FRAMES:
            return Tone.FAX
        return None
