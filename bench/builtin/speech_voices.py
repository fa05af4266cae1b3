"""What the built-in speech datasets say and who says it: texts (keywords, a sentence grammar, the language-id
sentences read from `data/`), voices (eSpeak NG language voice or accent + variant + pitch, rate and range), the
split of variants and verb phrases across train/validation/test, and the words of captions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.builtin import espeak
from bench.builtin.audio_utils import SPLITS

DATA = Path(__file__).resolve().parent / "data"

KEYWORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
            "yes", "no", "up", "down", "left", "right")

# The English sentence grammar: subject + verb phrase (split across train/validation/test) + optional time/place.
_GRAMMAR = json.loads((DATA / "sentence_grammar.json").read_text(encoding="utf-8"))
SUBJECTS: tuple[str, ...] = tuple(_GRAMMAR["subjects"])
ACTIONS: tuple[str, ...] = tuple(_GRAMMAR["actions"])
WHEN: tuple[str, ...] = tuple(_GRAMMAR["when"])

# English accents: eSpeak NG language voice -> adjective for captions.
ACCENTS = {"en-us": "American", "en": "British", "en-gb-x-rp": "Received Pronunciation",
           "en-gb-scotland": "Scottish", "en-gb-x-gbclan": "Lancashire", "en-gb-x-gbcwmd": "West Midlands",
           "en-us-nyc": "New York", "en-029": "Caribbean"}

# Language id: label -> (name, eSpeak NG voice, the same 16 sentences in that language).
LANGUAGES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    code: (entry["name"], entry["voice"], tuple(entry["sentences"]))
    for code, entry in json.loads((DATA / "languages.json").read_text(encoding="utf-8")).items()}
LANGUAGE_SENTENCE_SPLIT = (8, 4, 4)  # sentences per language in train, validation, test

NUMBER_WORDS = ("zero", "one", "two", "three", "four")

# ---------------------------------------------------------------------------------------------------------------
# Voices and splits


def uniform_int(rng: np.random.Generator, low: float, high: float) -> int:
    """A uniform draw in [low, high], rounded to the nearest integer."""
    return int(round(rng.uniform(low, high)))


@dataclass(frozen=True)
class Voice:
    """A speaker: eSpeak NG language voice (or accent) + variant + pitch (0-99), rate (wpm) and pitch range."""

    language: str
    variant: espeak.Variant
    pitch: int
    rate: int
    pitch_range: int

    @property
    def id(self) -> str:
        return f"{self.language}+{self.variant.name}@p{self.pitch}r{self.rate}"

    def say(self, text: str, rng: np.random.Generator, jitter: bool = False, pitch_jitter: int = 4
            ) -> dict[str, Any]:
        """eSpeak request for `text`; with `jitter`, pitch (+-`pitch_jitter`), rate and range vary around the
        voice's own."""
        pitch, rate, pitch_range = self.pitch, self.rate, self.pitch_range
        if jitter:
            pitch += int(rng.integers(-pitch_jitter, pitch_jitter + 1))
            rate = int(round(rate * rng.uniform(0.92, 1.08)))
            pitch_range += int(rng.integers(-8, 9))
        return {"text": text, "voice": self.language, "variant": self.variant.name, "rate": rate,
                "pitch": int(np.clip(pitch, 0, 99)), "pitch_range": int(np.clip(pitch_range, 0, 99)),
                "seed": int(rng.integers(2 ** 31))}

    def fields(self) -> dict[str, Any]:
        """Manifest metadata of the voice."""
        return {"speaker": self.id, "gender": self.variant.gender, "variant": self.variant.name,
                "voice": self.language, "pitch": self.pitch, "rate": self.rate}


def random_voice(rng: np.random.Generator, variants: list[espeak.Variant], languages: list[str],
                 pitch: tuple[float, float] = (25, 75), rate: tuple[float, float] = (130, 240),
                 pitch_range: tuple[float, float] = (30, 80)) -> Voice:
    """A voice of a random language (or accent) and variant among those given, pitch, rate and range drawn
    uniformly in the given ranges."""
    return Voice(language=languages[int(rng.integers(len(languages)))],
                 variant=variants[int(rng.integers(len(variants)))],
                 pitch=uniform_int(rng, *pitch), rate=uniform_int(rng, *rate),
                 pitch_range=uniform_int(rng, *pitch_range))


def choose(rng: np.random.Generator, pool: list, count: int) -> list:
    """`count` distinct items of `pool`, in pool order."""
    return [pool[i] for i in sorted(rng.permutation(len(pool))[:count])]


def split_pool(rng: np.random.Generator, pool: list, counts: tuple[int, ...]) -> dict[str, list]:
    """Disjoint random subsets of `pool` of the given sizes, one per split (in pool order within a split)."""
    if sum(counts) > len(pool):
        raise ValueError(f"need {sum(counts)} distinct items for splits {counts}, have only {len(pool)}")
    order = rng.permutation(len(pool))
    out, start = {}, 0
    for split, count in zip(SPLITS, counts):
        out[split] = [pool[i] for i in sorted(order[start:start + count])]
        start += count
    return out


def _fractions(n: int, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)) -> tuple[int, int, int]:
    val, test = int(round(n * fractions[1])), int(round(n * fractions[2]))
    return n - val - test, val, test


def variant_splits(rng: np.random.Generator) -> dict[str, list[espeak.Variant]]:
    """All eSpeak variants split 60/20/20, so no variant is heard in two splits."""
    pool = espeak.variants()
    return split_pool(rng, pool, _fractions(len(pool)))


def action_splits(rng: np.random.Generator) -> dict[str, list[str]]:
    """The verb phrases split 60/20/20: sentences of different splits never share a verb phrase."""
    return split_pool(rng, list(ACTIONS), _fractions(len(ACTIONS)))


def phrase(rng: np.random.Generator, actions: list[str], when_prob: float = 0.4) -> str:
    """A sentence of the grammar: subject + one of `actions` (+ a time or place with probability `when_prob`)."""
    text = f"{SUBJECTS[int(rng.integers(len(SUBJECTS)))]} {actions[int(rng.integers(len(actions)))]}"
    if rng.random() < when_prob:
        text += f" {WHEN[int(rng.integers(len(WHEN)))]}"
    return text[0].upper() + text[1:] + "."


# ---------------------------------------------------------------------------------------------------------------
# Captions


def pitch_word(pitch: int) -> str:
    return "low-pitched " if pitch < 38 else "high-pitched " if pitch > 62 else ""


def rate_word(rate: int) -> str:
    return " slowly" if rate < 140 else " quickly" if rate > 215 else ""


def gender_word(gender: str | None, kind: str = "adjective") -> str:
    if kind == "noun":
        return {"female": "woman", "male": "man"}.get(gender or "", "person")
    return {"female": "female ", "male": "male "}.get(gender or "", "")


def voice_phrase(voice: Voice) -> str:
    """e.g. 'a low-pitched female voice with a Scottish accent'."""
    words = f"{pitch_word(voice.pitch)}{gender_word(voice.variant.gender)}voice"
    article = "an" if words[0] in "aeiou" else "a"
    accent = ACCENTS.get(voice.language)
    if accent:
        words += f" with {'an' if accent[0] in 'AEIOU' else 'a'} {accent} accent"
    return f"{article} {words}"


def people_phrase(genders: list[str | None]) -> str:
    """e.g. 'two women and a man'."""
    counts = [(g, genders.count(g)) for g in ("female", "male", None) if g in genders]
    parts = []
    for gender, count in counts:
        noun = gender_word(gender, "noun")
        plural = {"woman": "women", "man": "men", "person": "people"}[noun]
        parts.append(f"a {noun}" if count == 1 else f"{NUMBER_WORDS[count]} {plural}")
    return " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)
