"""Built-in speaker and paralinguistic datasets: speaker identification, speaker verification (trials over
speakers unseen in train), gender and prosody (arousal-like speaking styles)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.builtin import espeak
from bench.builtin.audio_utils import SPLITS, item_rng
from bench.builtin.speech_common import DEGRADATION_TEXT, SIZES, Clip, render, write_speech_card
from bench.builtin.speech_voices import (
    ACCENTS,
    Voice,
    action_splits,
    choose,
    gender_word,
    phrase,
    random_voice,
    rate_word,
    split_pool,
    uniform_int,
    variant_splits,
    voice_phrase,
)
from bench.builtin.writing import DatasetWriter

# Speaker tasks: a speaker's pitch varies from clip to clip by more than the registers of a variant's two speakers
# differ, so a pitch tracker cannot identify speakers by register alone (version 1 had +-4 and gaps of 10-25).
SPEAKER_PITCH_JITTER = 10
PAIR_PITCH_GAP = 6
AROUSAL = ("low", "neutral", "high")


def _paired_speakers(rng: np.random.Generator, variants: list[espeak.Variant], prefix: str, first: int = 0
                     ) -> dict[str, Voice]:
    """Two speakers per variant, with different accents, rates and ranges but pitch registers at most
    `PAIR_PITCH_GAP` apart (so pitch alone cannot tell a variant's two speakers apart), named prefix + number."""
    speakers = {}
    for variant in variants:
        accents = rng.choice(list(ACCENTS), size=2, replace=False)
        low = uniform_int(rng, 30, 60)
        for accent, pitch in zip(accents, (low, low + uniform_int(rng, 0, PAIR_PITCH_GAP))):
            voice = random_voice(rng, [variant], [str(accent)], rate=(140, 220))
            speakers[f"{prefix}{first + len(speakers):03d}"] = Voice(voice.language, variant, pitch, voice.rate,
                                                                     voice.pitch_range)
    return speakers


def _speaker_clips(rng: np.random.Generator, speakers: dict[str, Voice], counts: tuple[int, ...],
                   actions: dict[str, list[str]], split_of: dict[str, str] | None = None) -> list[Clip]:
    """Clips of fixed speakers (pitch +-`SPEAKER_PITCH_JITTER`, rate and range jittered per clip), phrases from
    each split's verb phrases; `clip_pitch` records the pitch each clip was said at.

    Without `split_of`, every speaker speaks in every split (counts per split); with it, only in its own split.
    """
    clips = []
    for s, split in enumerate(SPLITS):
        for name, voice in speakers.items():
            if split_of is not None and split_of[name] != split:
                continue
            for _ in range(counts[s]):
                text = phrase(rng, actions[split])
                say = voice.say(text, rng, jitter=True, pitch_jitter=SPEAKER_PITCH_JITTER)
                clips.append(Clip(split, say,
                                  {"label": name, "text": text,
                                   "caption": f"{voice_phrase(voice)} says '{text}'{rate_word(voice.rate)}",
                                   **voice.fields(), "speaker": name, "voice_id": voice.id,
                                   "clip_pitch": say["pitch"]}))
    return clips


def generate_speaker_id(out_dir: Path, tier: str, seed: int) -> None:
    """Speaker identification: the same speakers in every split, different sentences per split."""
    size = SIZES["speaker_id"][tier]
    rng = item_rng(seed, "speaker_id", "plan")
    actions = action_splits(rng)
    speakers = _paired_speakers(rng, choose(rng, espeak.variants(), size["variants"]), "spk")
    writer = DatasetWriter(out_dir)
    render(writer, _speaker_clips(rng, speakers, size["per_speaker"], actions), seed, "speaker_id", "spk")
    labels = (f"`label` is the speaker, one of {len(speakers)}: two per eSpeak NG variant, each with its own "
              "English accent, rate and pitch range; the two speakers of a variant have pitch registers at most "
              f"{PAIR_PITCH_GAP} apart (eSpeak's 0-99 scale) and every clip moves pitch by up to +-"
              f"{SPEAKER_PITCH_JITTER} (rate +-8%, range +-8), so pitch alone does not tell them apart and half the "
              "confusable pairs share a timbre. `clip_pitch` is the pitch each clip was said at. Every speaker "
              f"has {'/'.join(map(str, size['per_speaker']))} clips in train/validation/test; the sentences' verb "
              "phrases are split across splits, so no sentence is shared. " + DEGRADATION_TEXT)
    writer.finish()
    write_speech_card("Speaker identification", "Closed-set speaker identification.", labels, writer, seed, tier)


def _trials(rng: np.random.Generator, rows: list[dict[str, Any]], split: str, count: int) -> list[dict[str, Any]]:
    """Half target, half non-target pairs of distinct clips of `split`; a third of the non-targets are hard
    (two speakers that share an eSpeak variant)."""
    by_speaker: dict[str, list[str]] = {}
    variant_of: dict[str, str] = {}
    for row in rows:
        if row["split"] == split:
            by_speaker.setdefault(row["speaker"], []).append(row["id"])
            variant_of[row["speaker"]] = row["variant"]
    speakers = sorted(by_speaker)
    same = sum(len(ids) * (len(ids) - 1) // 2 for ids in by_speaker.values())
    if count // 2 > same or len(speakers) < 2:
        raise ValueError(f"{split}: {count} trials need more clips per speaker or more speakers than "
                         f"{len(speakers)} speakers with {same} same-speaker pairs")
    trials, seen = [], set()
    while len(trials) < count:
        target = len(trials) % 2 == 0
        first = speakers[int(rng.integers(len(speakers)))]
        if target:
            second = first
        else:
            hard = [s for s in speakers if s != first and variant_of[s] == variant_of[first]]
            others = hard if hard and rng.random() < 1 / 3 else [s for s in speakers if s != first]
            second = others[int(rng.integers(len(others)))]
        enroll = by_speaker[first][int(rng.integers(len(by_speaker[first])))]
        test = by_speaker[second][int(rng.integers(len(by_speaker[second])))]
        if enroll == test or (enroll, test) in seen or (test, enroll) in seen:
            continue
        seen.add((enroll, test))
        trials.append({"enroll": enroll, "test": test, "target": int(target), "split": split})
    return trials


def generate_verification(out_dir: Path, tier: str, seed: int) -> None:
    """Speaker verification trials over speakers unseen in train (validation and test trials)."""
    size = SIZES["verification"][tier]
    rng = item_rng(seed, "verification", "plan")
    actions = action_splits(rng)
    pools = split_pool(rng, espeak.variants(), size["variants"])
    speakers, split_of = {}, {}
    for split in SPLITS:
        for name, voice in _paired_speakers(rng, pools[split], split[:3], first=len(speakers)).items():
            speakers[name] = voice
            split_of[name] = split
    writer = DatasetWriter(out_dir)
    render(writer, _speaker_clips(rng, speakers, size["per_speaker"], actions, split_of), seed, "verification", "sv")
    trials = [t for split, count in zip(SPLITS, size["trials"]) if count
              for t in _trials(rng, writer.rows, split, count)]
    labels = ("`speaker` names the speaker of each clip: an eSpeak NG variant with a fixed accent, pitch register, "
              f"rate and range (per clip, pitch moves by up to +-{SPEAKER_PITCH_JITTER}, `clip_pitch`). Each variant "
              "gives two speakers (different accent, rate and range; pitch registers at most "
              f"{PAIR_PITCH_GAP} apart) and belongs to one split only, so validation and test speakers are never "
              "heard in train. `trials.jsonl` pairs two clips of the same split (`target` 1 = same speaker); half "
              "are targets, and a third of the non-targets pair the two speakers of one variant. " + DEGRADATION_TEXT)
    extra = "| split | trials |\n|---|---|\n" + "\n".join(
        f"| {split} | {sum(t['split'] == split for t in trials)} |" for split in SPLITS)
    writer.finish(trials)
    write_speech_card("Speaker verification", "Speaker verification by scoring trial pairs.", labels, writer, seed,
                      tier, label_column="speaker", extra=extra)


def generate_gender(out_dir: Path, tier: str, seed: int) -> None:
    """Male / female voices, balanced; variants (speakers) disjoint across splits."""
    size = SIZES["gender"][tier]
    rng = item_rng(seed, "gender", "plan")
    actions = action_splits(rng)
    every = espeak.variants()
    pools = {g: split_pool(rng, [v for v in every if v.gender == g], size["variants"]) for g in ("female", "male")}
    clips = []
    for s, split in enumerate(SPLITS):
        for j in range(size["per_class"][s]):
            for gender in ("female", "male"):
                variants = pools[gender][split]
                voice = random_voice(rng, [variants[j % len(variants)]], list(ACCENTS), pitch=(10, 90))
                text = phrase(rng, actions[split])
                caption = f"{voice_phrase(voice)} says '{text}'{rate_word(voice.rate)}"
                clips.append(Clip(split, voice.say(text, rng),
                                  {"label": gender, "text": text, "caption": caption, **voice.fields()}))
    writer = DatasetWriter(out_dir)
    render(writer, clips, seed, "gender", "gen")
    labels = ("`label` is the gender an eSpeak NG variant declares in its voice file (female variants are all the "
              "declared ones; male variants a random equal number of the declared or low-pitched ones). Variants "
              f"per gender: {'/'.join(map(str, size['variants']))} in train/validation/test, never shared across "
              "splits; pitch 10-90 (eSpeak's 0-99 scale around each variant's own) makes the two genders' pitch "
              "ranges overlap widely, so pitch alone does not give the answer. Balanced in every split. "
              + DEGRADATION_TEXT)
    writer.finish()
    write_speech_card("Speaker gender", "Binary gender of synthetic voices.", labels, writer, seed, tier)


def _arousal(rng: np.random.Generator, voice: Voice, level: str) -> Voice:
    """The voice moved to a low / neutral / high arousal speaking style (rate, pitch and range)."""
    if level == "low":
        rate, pitch, pitch_range = voice.rate * rng.uniform(0.65, 0.85), voice.pitch - rng.uniform(6, 16), (5, 30)
    elif level == "neutral":
        rate, pitch, pitch_range = voice.rate * rng.uniform(0.9, 1.1), voice.pitch + rng.uniform(-5, 5), (35, 60)
    else:
        rate, pitch, pitch_range = voice.rate * rng.uniform(1.2, 1.5), voice.pitch + rng.uniform(6, 18), (65, 99)
    return Voice(voice.language, voice.variant, int(np.clip(round(pitch), 0, 99)), int(round(rate)),
                 uniform_int(rng, *pitch_range))


def generate_prosody(out_dir: Path, tier: str, seed: int) -> None:
    """Arousal-like speaking styles (low / neutral / high: rate, pitch, range); speakers and texts disjoint."""
    rng = item_rng(seed, "prosody", "plan")
    actions = action_splits(rng)
    pools = variant_splits(rng)
    base = {split: [random_voice(rng, [v], list(ACCENTS), pitch=(30, 65), rate=(150, 190)) for v in pools[split]]
            for split in SPLITS}
    manner = {"low": "slowly, in a low, flat voice", "neutral": "in a neutral tone",
              "high": "fast, in a high, lively voice"}
    clips = []
    for split, per_class in zip(SPLITS, SIZES["prosody"][tier]["per_class"]):
        for _ in range(per_class):
            for level in AROUSAL:
                speaker = base[split][int(rng.integers(len(base[split])))]
                voice = _arousal(rng, speaker, level)
                text = phrase(rng, actions[split])
                caption = f"a {gender_word(voice.variant.gender, 'noun')} says '{text}' {manner[level]}"
                clips.append(Clip(split, voice.say(text, rng),
                                  {"label": level, "text": text, "caption": caption, **voice.fields(),
                                   "speaker": speaker.id}))
    writer = DatasetWriter(out_dir)
    render(writer, clips, seed, "prosody", "pro")
    labels = ("`label` is an arousal-like speaking style standing in for emotion: `low` (rate x0.65-0.85, pitch "
              "6-16 below the speaker's own, range 5-30), `neutral` (rate x0.9-1.1, pitch +-5, range 35-60), `high` "
              "(rate x1.2-1.5, pitch 6-18 above, range 65-99). Each speaker (an eSpeak variant with its own accent, "
              "pitch 30-65 and rate 150-190 wpm) belongs to one split, and so do the sentences' verb phrases. "
              "Balanced in every split. " + DEGRADATION_TEXT)
    writer.finish()
    write_speech_card("Prosody (arousal)", "Speaking-style classification as a stand-in for emotion.", labels,
                      writer, seed, tier)
