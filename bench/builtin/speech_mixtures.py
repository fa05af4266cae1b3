"""Built-in multi-voice datasets: speaker counting (mixtures of 1-4 simultaneous voices) and diarization
(10-30 s conversations with turn-taking, pauses and overlap, with RTTM references)."""

from __future__ import annotations

from pathlib import Path

from bench.builtin import espeak
from bench.builtin.audio_utils import SAMPLE_RATE, SPLITS, active_region, item_rng, mix, trim
from bench.builtin.speech_common import SIZES, WORKERS, degrade, write_speech_card
from bench.builtin.speech_voices import (
    ACCENTS,
    action_splits,
    choose,
    people_phrase,
    phrase,
    random_voice,
    variant_splits,
)
from bench.builtin.writing import DatasetWriter, write_rttm


def generate_counting(out_dir: Path, tier: str, seed: int) -> None:
    """Mixtures of 1-4 simultaneous voices, label = count; variants disjoint across splits."""
    size = SIZES["counting"][tier]
    length = int(size["seconds"] * SAMPLE_RATE)
    rng = item_rng(seed, "counting", "plan")
    actions = action_splits(rng)
    pools = variant_splits(rng)
    plan = {split: [random_voice(rng, pools[split], list(ACCENTS), rate=(150, 230)) for _ in range(n)]
            for split, n in zip(SPLITS, size["pool"])}
    texts = {split: [phrase(rng, actions[split], when_prob=0.6) for _ in voices] for split, voices in plan.items()}
    said = {}
    for split, voices in plan.items():
        waves = espeak.synthesize_many([v.say(t, rng) for v, t in zip(voices, texts[split])], workers=WORKERS)
        said[split] = [trim(w) for w in waves]
    writer = DatasetWriter(out_dir)
    index = 0
    for split, per_class in zip(SPLITS, size["per_class"]):
        voices = plan[split]
        for _ in range(per_class):
            for count in range(1, 5):
                picks: list[int] = []
                while len(picks) < count:  # distinct variants within a mixture
                    pick = int(rng.integers(len(voices)))
                    if all(voices[p].variant != voices[pick].variant for p in picks):
                        picks.append(pick)
                sources = []
                for p in picks:
                    wave = said[split][p] * 10 ** (rng.uniform(-6, 0) / 20)
                    if len(wave) > length:
                        cut = int(rng.integers(len(wave) - length + 1))
                        sources.append((wave[cut:cut + length], 0))
                    else:
                        sources.append((wave, int(rng.integers(length - len(wave) + 1))))
                clip_rng = item_rng(seed, "counting", "degrade", index)
                noisy, info = degrade(mix(sources, length), clip_rng, snr_db=(15, 40), lead_s=(0, 0),
                                      tail_s=(0, 0))
                genders = [voices[p].variant.gender for p in picks]
                caption = f"{people_phrase(genders)} speaking {'at once' if count > 1 else 'alone'}"
                writer.add(f"cnt{index:05d}", noisy[:length], split=split, label=str(count), n_speakers=count,
                           speakers=[voices[p].id for p in picks], genders=genders, caption=caption, **info)
                index += 1
    labels = (f"`label` is the number of distinct voices (\"1\"-\"4\", balanced in every split) in a "
              f"{size['seconds']:g} s mixture. Each voice is a short sentence by an eSpeak NG variant (accent, pitch "
              "25-75, rate 150-230 wpm), gain -6-0 dB, placed at a random offset (or randomly cropped when "
              "longer); voices in one mixture use distinct variants, and variants never cross splits. Mixtures "
              f"draw from a pool of {'/'.join(map(str, size['pool']))} utterances per split. Noise at 15-40 dB SNR, "
              "reverberation in 30% of clips.")
    writer.finish()
    write_speech_card("Speaker counting", "How many people speak at once.", labels, writer, seed, tier)


def generate_diarization(out_dir: Path, tier: str, seed: int) -> None:
    """10-30 s conversations of 2-4 speakers taking turns with pauses and some overlap, with RTTM references."""
    rng = item_rng(seed, "diarization", "plan")
    actions = action_splits(rng)
    pools = variant_splits(rng)
    writer = DatasetWriter(out_dir)
    (Path(out_dir) / "rttm").mkdir()
    index = 0
    for split, count in zip(SPLITS, SIZES["diarization"][tier]["recordings"]):
        for r in range(count):
            n_speakers = 2 + r % 3
            variants = choose(rng, pools[split], n_speakers)
            voices = {f"spk{j + 1}": random_voice(rng, [v], list(ACCENTS), rate=(140, 220))
                      for j, v in enumerate(variants)}
            names = list(voices)
            target = rng.uniform(10.0, 30.0)
            cursor, previous, sources, segments = rng.uniform(0.3, 1.0), None, [], []
            first_turns = [names[i] for i in rng.permutation(n_speakers)]  # everyone speaks at least once
            while cursor < target - 1.0 or first_turns:
                name = first_turns.pop(0) if first_turns else names[int(rng.integers(len(names)))]
                if name == previous:
                    continue
                wave = trim(espeak.synthesize(**voices[name].say(phrase(rng, actions[split], 0.5), rng,
                                                                   jitter=True)))
                start = int(cursor * SAMPLE_RATE)
                sources.append((wave * 10 ** (rng.uniform(-4, 0) / 20), start))
                begin, end = active_region(wave)
                segments.append([round((start + begin) / SAMPLE_RATE, 3), round((start + end) / SAMPLE_RATE, 3), name])
                end_s = (start + len(wave)) / SAMPLE_RATE
                overlap = rng.random() < 0.25
                cursor = max(cursor + 0.5, end_s - rng.uniform(0.2, 0.8)) if overlap else end_s + rng.uniform(0.1, 1.0)
                previous = name
            length = max(s + len(w) for w, s in sources) + int(rng.uniform(0.3, 1.0) * SAMPLE_RATE)
            rec = f"dia{index:05d}"
            noisy, info = degrade(mix(sources, length), item_rng(seed, "diarization", "degrade", index),
                                  snr_db=(15, 35), lead_s=(0, 0), tail_s=(0, 0))
            write_rttm(Path(out_dir) / "rttm" / f"{rec}.rttm", rec, segments)
            genders = [voices[n].variant.gender for n in names]
            caption = f"a conversation between {people_phrase(genders)}, {len(noisy) / SAMPLE_RATE:.0f} seconds long"
            writer.add(rec, noisy, split=split, label=str(n_speakers), n_speakers=n_speakers, segments=segments,
                       rttm=f"rttm/{rec}.rttm", speakers={n: voices[n].id for n in names}, caption=caption, **info)
            index += 1
    labels = ("`segments` (and `rttm/<id>.rttm`) list `[start_s, end_s, speaker]` for every utterance, from the "
              "span of each utterance's own speech (10 ms frames within 40 dB of its loudest). Each recording has "
              "2-4 speakers (eSpeak NG variants with accent, pitch, rate; variants never cross splits) taking turns "
              "with 0.1-1.0 s pauses, and in a quarter of turns starting 0.2-0.8 s before the previous one ends. "
              "`label` is the number of speakers. Noise at 15-35 dB SNR, reverberation in 30% of recordings.")
    writer.finish()
    write_speech_card("Speaker diarization", "Who spoke when, in 10-30 s multi-speaker recordings.", labels,
                      writer, seed, tier)
