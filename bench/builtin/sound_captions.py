"""The built-in captions dataset: audio-text pairs over rendered music and sound events, and how often its template
captions repeat (within test and between train and test), which its card states.

Captions are made from each clip's metadata, so different clips can share a caption verbatim ("a cow moos"). The
retrieval protocol counts every clip with the same caption text as relevant; the card reports the repeats so the
reader knows how many test captions were also seen as training targets.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from bench.builtin.audio_utils import SPLITS, item_rng, tier_sizes
from bench.builtin.sound import AUGMENT_TEXT, EVENT_CLASSES, event_clip
from bench.builtin.writing import sources_text, split_table, write_card, write_clips


def caption_repeats(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Counts of repeated captions: test clips whose caption another test clip has too, distinct test captions,
    distinct test captions that also occur in train, and test clips whose caption occurs in train."""
    test = [r["caption"] for r in rows if r["split"] == "test"]
    train = {r["caption"] for r in rows if r["split"] == "train"}
    counts = Counter(test)
    return {"test_clips": len(test), "test_clips_sharing_caption": sum(counts[c] > 1 for c in test),
            "distinct_test_captions": len(counts), "test_captions_in_train": sum(c in train for c in counts),
            "test_clips_caption_in_train": sum(c in train for c in test)}


def repeats_text(rows: list[dict[str, Any]]) -> str:
    """The card paragraph on repeated captions, with this dataset's counts."""
    n = caption_repeats(rows)
    return (f"Captions are templates over the metadata, so some repeat verbatim: {n['test_clips_sharing_caption']} "
            f"of the {n['test_clips']} test clips share their caption with another test clip "
            f"({n['distinct_test_captions']} distinct test captions). Retrieval counts every test clip with the same "
            f"caption text as relevant (not only the query's own pair). {n['test_captions_in_train']} distinct "
            f"test captions ({n['test_clips_caption_in_train']} test clips) also occur in train, where the "
            "contrastive probe learns them as targets: test audio is new, but not every test caption is.")


def write_captions(out_dir: Path, tier: str, seed: int) -> None:
    """Generate the captions dataset (see `bench.builtin.sound.generate_captions`) into `out_dir`."""
    from bench.builtin.music import (
        CHORDS,
        FAMILIES,
        RENDERING_TEXT,
        SAMPLE_SPLIT_TEXT,
        Renderer,
        chord_item,
        family_splits,
        instrument_item,
    )

    per_class = dict(zip(SPLITS, tier_sizes(tier, quick=(8, 2, 6), full=(80, 20, 40))))
    renderer, programs, items = Renderer(), family_splits(seed), []
    for split in SPLITS:
        for fam, family in FAMILIES.items():
            for j in range(per_class[split]):
                rng = item_rng(seed, f"captions-music-{split}-{fam}", j)
                program = int(rng.choice(programs[fam][split]))
                if family not in ("bass", "pipe") and rng.random() < 0.3:
                    x, meta = chord_item(renderer, rng, program, str(rng.choice(list(CHORDS))))
                    meta["chord"] = meta.pop("label")
                else:
                    x, meta = instrument_item(renderer, rng, fam, program)
                    meta.pop("label")
                items.append((x, {"class": family, "domain": "music", **meta}, split))
        for label in EVENT_CLASSES:
            for j in range(per_class[split]):
                x, meta = event_clip(label, item_rng(seed, f"captions-sound-{split}-{label}", j), split)
                meta.pop("label")
                items.append((x, {"class": label, "domain": "sound", **meta}, split))
    rows = write_clips(out_dir, "caption", items)
    write_card(out_dir, f"builtin captions ({tier}, seed {seed})", {
        "Task": "Audio-text retrieval and class-name zero-shot over music and sound clips. `caption`: a sentence "
                "made from each clip's metadata (instrument, pitch register or chord, dynamics, room, noise; or "
                "the event phrase with counts, room and noise). `class`: 28 classes, the 10 instrument families ("
                + ", ".join(FAMILIES.values()) + ") and the 18 sound-event classes. `domain`: music or sound. "
                "Music clips are 1.5 s (30% chords where the family is polyphonic), sound clips 2 s.",
        "Splits": "Music clips follow the instrument dataset's program assignment (the same seeded split). "
                  + SAMPLE_SPLIT_TEXT + "Sound clips follow the sound_events augmentation hold-out:\n"
                  + AUGMENT_TEXT,
        "Repeated captions": repeats_text(rows),
        "Sizes": split_table(rows, column="class"),
        "Music rendering": RENDERING_TEXT,
        "Sources and licenses": sources_text("tinysoundfont", "soundfont", "synthetic", "animals"),
    })
