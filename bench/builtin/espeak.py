"""eSpeak NG through ctypes (the `espeakng-loader` wheel): deterministic synthesis and the voice-variant catalogue.

eSpeak NG keeps synthesis state in C statics (pitch flutter index, gain control, echo buffer, libc `rand()` for
breath noise), so one process that says the same thing twice gets different samples, and a clip would depend on
every clip said before it. To make each clip a pure function of its arguments, a small server process (this
file run as a script, standard library only) initialises the library, loads one language voice, and forks a fresh
child per utterance in that language: every child starts from the same state, with both random generators seeded
from the request, and only sets its variant and parameters. Forking costs about a millisecond; eSpeak itself runs
about 1000x real time.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import json
import os
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported lazily: the server half of this file runs without site-packages
    import numpy as np

SAMPLE_RATE = 16000  # what `synthesize` returns
NATIVE_RATE = 22050  # what eSpeak NG produces
DEFAULT_PITCH_HZ = (82, 118)  # eSpeak's base voice when a variant file has no `pitch` line

_INSTALL_HINT = "install it with `pip install espeakng-loader==0.2.4` (it ships libespeak-ng and its data)"


class EspeakError(RuntimeError):
    """eSpeak NG could not be loaded or refused a request; the message says which and how to fix it."""


@dataclass(frozen=True)
class Variant:
    """An eSpeak NG voice variant (`voices/!v/<name>`): a timbre applied on top of a language voice."""

    name: str
    gender: str | None  # "male", "female", or None where the file and its pitch leave it ambiguous
    pitch_hz: tuple[int, int]  # base and top of the variant's pitch range at pitch parameter 50


def library_paths() -> tuple[str, str]:
    """(shared library, data folder) of the installed espeakng-loader wheel."""
    try:
        import espeakng_loader
    except ImportError as err:
        raise EspeakError(f"the built-in speech datasets need eSpeak NG: {_INSTALL_HINT}") from err
    lib, data = espeakng_loader.get_library_path(), espeakng_loader.get_data_path()
    if not Path(lib).exists():
        raise EspeakError(f"espeakng-loader has no shared library at {lib}; reinstall it: {_INSTALL_HINT}")
    return lib, data


def _parse_variant(path: Path) -> Variant:
    declared, pitch = None, DEFAULT_PITCH_HZ
    for line in path.read_text(errors="replace").splitlines():
        words = line.split()
        if len(words) >= 2 and words[0].lower() == "gender":
            declared = words[1].lower()
        elif len(words) >= 3 and words[0].lower() == "pitch":
            pitch = (int(words[1]), int(words[2]))
    if declared in ("male", "female"):
        gender = declared
    else:  # undeclared: eSpeak's base voice is male; a high pitch range makes it ambiguous (child-like, robotic)
        gender = "male" if pitch[0] <= 110 else None
    return Variant(name=path.name, gender=gender, pitch_hz=pitch)


def variants() -> list[Variant]:
    """All voice variants shipped with the wheel, sorted by name, with their gender and pitch range."""
    folder = Path(library_paths()[1]) / "voices" / "!v"
    return [_parse_variant(p) for p in sorted(folder.iterdir(), key=lambda p: p.name) if p.is_file()]


@functools.lru_cache(maxsize=1)
def _variant_names() -> frozenset[str]:
    return frozenset(v.name for v in variants())


# ---------------------------------------------------------------------------------------------------------------
# Client side: servers are started on first use (one per process, language voice and concurrent caller), reused,
# and stopped at exit. Keying by process id keeps a forked copy of this module off its parent's pipes.

_idle: dict[tuple[int, str], list[subprocess.Popen]] = {}
_started: list[subprocess.Popen] = []
_lock = threading.Lock()


def _stop_servers() -> None:
    for server in _started:
        if server.poll() is None:
            server.stdin.close()
            try:
                server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.kill()


def _start_server(language: str) -> subprocess.Popen:
    lib, data = library_paths()
    server = subprocess.Popen([sys.executable, "-S", __file__, lib, data, language],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if server.stdout.read(4) != b"REDY":
        err = server.stderr.read().decode(errors="replace").strip()
        raise EspeakError(f"eSpeak NG server for voice {language!r} failed to start ({err or 'no message'}); "
                          f"voice names are the files under espeak-ng-data/lang/ (e.g. 'en-us', 'fr'); "
                          f"or {_INSTALL_HINT}")
    with _lock:
        if not _started:
            atexit.register(_stop_servers)
        _started.append(server)
    return server


def _ask(server: subprocess.Popen, request: dict) -> tuple[bytes, bytes]:
    server.stdin.write(json.dumps(request).encode() + b"\n")
    server.stdin.flush()
    header = server.stdout.read(8)
    if len(header) != 8:
        raise EspeakError(f"eSpeak NG server died while saying {request['text']!r} with {request['voice']!r}")
    return header[:4], server.stdout.read(struct.unpack("<I", header[4:])[0])


def _ask_idle_server(voice: str, request: dict) -> tuple[bytes, bytes]:
    """`_ask` an idle server of this process for `voice` (started when there is none, or it died), then return it
    to the idle pool."""
    with _lock:
        idle = _idle.setdefault((os.getpid(), voice), [])
        server = idle.pop() if idle else None
    if server is None or server.poll() is not None:
        server = _start_server(voice)
    answer = _ask(server, request)
    with _lock:
        idle.append(server)
    return answer


def synthesize_native(text: str, voice: str = "en-us", *, variant: str | None = None, rate: int = 175,
                      pitch: int = 50, pitch_range: int = 50, volume: int = 60, word_gap: int = 0,
                      seed: int = 0) -> np.ndarray:
    """Say `text` with eSpeak NG; int16 samples at 22050 Hz. Same arguments, same samples, in any process.

    `voice` is a language voice (`en-us`, `fr`, ...), `variant` a name from `variants()`; `rate` is in words
    per minute (80-450), `pitch` and `pitch_range` are eSpeak's 0-99 parameters (50 = the voice's own),
    `volume` 0-200 (above about 70 some variants saturate), `word_gap` adds pauses between words in units
    of 10 ms, `seed` drives the breath noise of some variants. Thread-safe: concurrent callers get their own
    server process.
    """
    if variant is not None and variant not in _variant_names():  # eSpeak would silently use the plain voice
        raise EspeakError(f"unknown eSpeak NG variant {variant!r}; known: {', '.join(sorted(_variant_names()))}")
    request = {"text": text, "voice": voice if variant is None else f"{voice}+{variant}", "rate": int(rate),
               "pitch": int(pitch), "range": int(pitch_range), "volume": int(volume), "wordgap": int(word_gap),
               "seed": int(seed) & 0x7FFFFFFF}
    status, payload = _ask_idle_server(voice, request)
    if status != b"OKAY":
        raise EspeakError(f"eSpeak NG refused {request}: {payload.decode(errors='replace')}")
    import numpy as np

    return np.frombuffer(payload, dtype="<i2").copy()


def phonemize(text: str, voice: str = "en-us") -> str:
    """The IPA phonemes eSpeak NG says for `text` with language voice `voice`: space-separated phonemes, stress
    marks and word boundaries dropped (e.g. "seven" -> "s ɛ v ə n"). Same arguments, same answer, in any process."""
    request = {"text": text, "voice": voice, "phonemes": True}
    status, payload = _ask_idle_server(voice, request)
    if status != b"OKAY":
        raise EspeakError(f"eSpeak NG refused to phonemize {text!r} with {voice!r}: {payload.decode(errors='replace')}")
    clauses = payload.decode().replace(_STRESS_PRIMARY, "").replace(_STRESS_SECONDARY, "")
    return " ".join(p for p in clauses.replace(" ", _PHONEME_SEPARATOR).split(_PHONEME_SEPARATOR) if p)


def synthesize(text: str, voice: str = "en-us", **kwargs) -> np.ndarray:
    """`synthesize_native` resampled to float32 mono at 16 kHz in [-1, 1] (see it for the arguments)."""
    import numpy as np
    import soxr

    native = synthesize_native(text, voice, **kwargs).astype(np.float32) / 32768.0
    return soxr.resample(native, NATIVE_RATE, SAMPLE_RATE, quality="HQ").astype(np.float32)


def synthesize_many(requests: list[dict], workers: int = 2) -> list[np.ndarray]:
    """`synthesize(**request)` for each request, `workers` at a time; results in request order."""
    from concurrent.futures import ThreadPoolExecutor

    if workers <= 1:
        return [synthesize(**request) for request in requests]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda request: synthesize(**request), requests))


# ---------------------------------------------------------------------------------------------------------------
# Server side: `python -S espeak.py <library> <data folder> <language voice>`, standard library only.

_AUDIO_OUTPUT_SYNCHRONOUS, _INITIALIZE_DONT_EXIT = 2, 0x8000
_RATE, _VOLUME, _PITCH, _RANGE, _WORDGAP = 1, 2, 3, 4, 7
_POS_CHARACTER, _CHARS_UTF8 = 1, 1
_PHONEMES_IPA = 0x02  # espeak_TextToPhonemes: IPA, with the separator character in bits 8-23
_PHONEME_SEPARATOR, _STRESS_PRIMARY, _STRESS_SECONDARY = "_", "\u02c8", "\u02cc"


def _phonemes_in_child(lib: ctypes.CDLL, request: dict) -> bytes:
    """Runs in a freshly forked child: the framed reply with the IPA phonemes of every clause, space-separated."""
    if lib.espeak_SetVoiceByName(request["voice"].encode()) != 0:
        return b"FAIL" + _frame(f"unknown voice {request['voice']!r}".encode())
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    text = ctypes.create_string_buffer(request["text"].encode())
    pointer = ctypes.c_void_p(ctypes.addressof(text))
    mode = _PHONEMES_IPA | (ord(_PHONEME_SEPARATOR) << 8)
    clauses = []
    while pointer.value:
        clauses.append(lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, mode) or b"")
    return b"OKAY" + _frame(b" ".join(clauses))


def _say_in_child(lib: ctypes.CDLL, libc: ctypes.CDLL, request: dict) -> bytes:
    """Runs in a freshly forked child: returns the framed reply."""
    chunks: list[bytes] = []

    @ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
    def callback(wav, count, _events):
        if count > 0:
            chunks.append(ctypes.string_at(wav, count * 2))
        return 0

    lib.espeak_SetSynthCallback(callback)
    libc.srand(request["seed"])
    lib.espeak_ng_SetRandSeed(ctypes.c_long(request["seed"]))
    if lib.espeak_SetVoiceByName(request["voice"].encode()) != 0:
        return b"FAIL" + _frame(f"unknown voice {request['voice']!r}".encode())
    for param, key in ((_RATE, "rate"), (_VOLUME, "volume"), (_PITCH, "pitch"), (_RANGE, "range"),
                       (_WORDGAP, "wordgap")):
        lib.espeak_SetParameter(param, request[key], 0)
    text = request["text"].encode() + b"\0"
    code = lib.espeak_Synth(text, len(text), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
    lib.espeak_Synchronize()
    if code != 0:
        return b"FAIL" + _frame(f"espeak_Synth returned {code}".encode())
    return b"OKAY" + _frame(b"".join(chunks))


def _frame(payload: bytes) -> bytes:
    return struct.pack("<I", len(payload)) + payload


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _serve(lib_path: str, data_path: str, language: str) -> None:
    """Initialise eSpeak NG and load `language`, then answer one JSON request per stdin line from a fresh fork."""
    lib = ctypes.CDLL(lib_path)
    libc = ctypes.CDLL(None)
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                 ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    if lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), _INITIALIZE_DONT_EXIT) <= 0:
        sys.stderr.write(f"espeak_Initialize failed with data folder {data_path}\n")
        sys.exit(1)
    if lib.espeak_SetVoiceByName(language.encode()) != 0:
        sys.stderr.write(f"unknown voice {language!r}\n")
        sys.exit(1)
    _write_all(1, b"REDY")
    for line in sys.stdin.buffer:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                reply = (_phonemes_in_child(lib, request) if request.get("phonemes")
                         else _say_in_child(lib, libc, request))
                _write_all(1, reply)
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            _write_all(1, b"FAIL" + _frame(f"synthesis process crashed (status {status})".encode()))


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2], sys.argv[3])
