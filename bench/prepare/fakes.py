"""Tiny fake copies of each published layout (exact file names, CSV columns, list formats; short tones as audio),
for the tests and for trying `bench data prepare` without the data. Every class appears in every split or fold."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.prepare.xares import XaresTask

RATE = 16000
CLASSES = ("dog", "rain", "siren")


def write_tone(path: Path, index: int, seconds: float = 0.3, suffix_format: str | None = None) -> None:
    """A short noisy tone whose pitch depends on `index` (so classes are separable when index is the class)."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(index * 7919 + len(path.name))
    t = np.arange(int(seconds * RATE)) / RATE
    wave = 0.3 * np.sin(2 * np.pi * 220.0 * (1 + index % 7) * t) + 0.02 * rng.standard_normal(len(t))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave.astype("float32"), RATE, format=suffix_format)


def _csv(path: Path, columns: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)


def fake_esc50(root: Path) -> Path:
    """ESC-50-master/: meta/esc50.csv + audio/<fold>-<src>-<take>-<target>.wav; 3 classes x 5 folds x 2 clips."""
    base = root / "ESC-50-master"
    rows = []
    for fold in range(1, 6):
        for target, category in enumerate(CLASSES):
            for take in "AB":
                src = 100 * fold + target
                name = f"{fold}-{src}-{take}-{target}.wav"
                write_tone(base / "audio" / name, target)
                rows.append([name, fold, target, category, target == 0, src, take])
    _csv(base / "meta" / "esc50.csv", ["filename", "fold", "target", "category", "esc10", "src_file", "take"], rows)
    return root


def fake_urbansound8k(root: Path) -> Path:
    """UrbanSound8K/: metadata/UrbanSound8K.csv + audio/fold1..fold10/<fsID>-<classID>-<occ>-<slice>.wav."""
    base = root / "UrbanSound8K"
    rows = []
    for fold in range(1, 11):
        for class_id, name in enumerate(CLASSES):
            fs_id = 1000 * fold + class_id
            file_name = f"{fs_id}-{class_id}-0-0.wav"
            write_tone(base / "audio" / f"fold{fold}" / file_name, class_id)
            rows.append([file_name, fs_id, 0.0, 0.3, 1, fold, class_id, name])
    _csv(base / "metadata" / "UrbanSound8K.csv",
         ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"], rows)
    return root


def fake_fsd50k(root: Path) -> Path:
    """FSD50K.ground_truth/{dev,eval}.csv + FSD50K.dev_audio/, FSD50K.eval_audio/ (multi-label)."""
    dev, ev = [], []
    fname = 1000
    for split, n in (("train", 4), ("val", 2), ("eval", 2)):
        for i in range(n):
            for c, label in enumerate(CLASSES):
                fname += 1
                labels = f"{label},{CLASSES[(c + 1) % 3]}" if i % 2 else label
                folder = "FSD50K.eval_audio" if split == "eval" else "FSD50K.dev_audio"
                write_tone(root / folder / f"{fname}.wav", c)
                (ev if split == "eval" else dev).append([fname, labels, "/m/0" + str(c)] + ([] if split == "eval"
                                                                                          else [split]))
    _csv(root / "FSD50K.ground_truth" / "dev.csv", ["fname", "labels", "mids", "split"], dev)
    _csv(root / "FSD50K.ground_truth" / "eval.csv", ["fname", "labels", "mids"], ev)
    return root


def fake_clotho(root: Path) -> Path:
    """clotho_captions_<split>.csv (file_name, caption_1..caption_5) + <split>/<file_name>."""
    for part, n in (("development", 6), ("validation", 3), ("evaluation", 3)):
        rows = []
        for i in range(n):
            name = f"{part} clip {i}.wav"
            write_tone(root / part / name, i % 3)
            rows.append([name] + [f"a {CLASSES[i % 3]} sound, take {k}" for k in range(1, 6)])
        _csv(root / f"clotho_captions_{part}.csv", ["file_name"] + [f"caption_{k}" for k in range(1, 6)], rows)
    return root


def fake_speechcommands(root: Path) -> Path:
    """<word>/<speaker>_nohash_<n>.wav + validation_list.txt, testing_list.txt, _background_noise_/."""
    validation, testing = [], []
    for w, word in enumerate(("yes", "no", "bed")):
        for s in range(6):
            rel = f"{word}/{s:08x}_nohash_0.wav"
            write_tone(root / rel, w)
            (validation if s == 4 else testing if s == 5 else []).append(rel)
    write_tone(root / "_background_noise_" / "white_noise.wav", 0, seconds=1.0)
    (root / "validation_list.txt").write_text("\n".join(validation) + "\n")
    (root / "testing_list.txt").write_text("\n".join(testing) + "\n")
    return root


def fake_voxceleb1(root: Path) -> Path:
    """wav/<id>/<video>/<n>.wav + iden_split.txt + veri_test2.txt (4 speakers, 2 of them in the trials)."""
    lines, trials = [], []
    for s in range(4):
        speaker = f"id1{s:04d}"
        for v in range(3):
            for n in range(1, 3):
                rel = f"{speaker}/vid{v}/{n:05d}.wav"
                write_tone(root / "wav" / rel, s)
                lines.append(f"{v + 1} {rel}")
    for s in (2, 3):
        trials.append(f"1 id1{s:04d}/vid0/00001.wav id1{s:04d}/vid2/00002.wav")
        trials.append(f"0 id1{s:04d}/vid0/00001.wav id1{5 - s:04d}/vid2/00002.wav")
    (root / "iden_split.txt").write_text("\n".join(lines) + "\n")
    (root / "veri_test2.txt").write_text("\n".join(trials) + "\n")
    return root


def fake_librispeech(root: Path) -> Path:
    """LibriSpeech/<subset>/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac + .trans.txt + SPEAKERS.TXT."""
    base = root / "LibriSpeech"
    speakers = [";ID  |SEX| SUBSET           |MINUTES| NAME"]
    for k, subset in enumerate(("train-clean-100", "dev-clean", "test-clean")):
        for s in range(4):
            spk, chapter = str(100 + 10 * k + s), "5000"
            sex = "F" if s % 2 else "M"
            speakers.append(f"{spk:<5}| {sex} | {subset:<17}| 1.00 | Reader {spk}")
            folder = base / subset / spk / chapter
            lines = []
            for u in range(2):
                utt = f"{spk}-{chapter}-{u:04d}"
                write_tone(folder / f"{utt}.flac", s % 2, suffix_format="FLAC")
                lines.append(f"{utt} HELLO WORLD NUMBER {u}")
            (folder / f"{spk}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
    (base / "SPEAKERS.TXT").write_text("\n".join(speakers) + "\n")
    return root


def fake_cremad(root: Path) -> Path:
    """AudioWAV/<actor>_<sentence>_<emotion>_<level>.wav, 10 actors x 3 emotions."""
    for a in range(10):
        for e, emotion in enumerate(("ANG", "HAP", "SAD")):
            write_tone(root / "AudioWAV" / f"{1001 + a}_IEO_{emotion}_HI.wav", e)
    return root


def fake_ravdess(root: Path) -> Path:
    """Actor_XX/03-01-EE-II-SS-RR-AA.wav, 8 actors x 3 emotions."""
    for actor in range(1, 25, 3):
        for e, emotion in enumerate(("01", "03", "05")):
            write_tone(root / f"Actor_{actor:02d}" / f"03-01-{emotion}-01-01-01-{actor:02d}.wav", e)
    return root


def fake_gtzan(root: Path) -> Path:
    """genres/<genre>/<genre>.000NN.au (Sun audio, as the original archive): 3 genres, one clip in each fold
    (numbers 00, 10, ..., 90)."""
    for g, genre in enumerate(("blues", "classical", "metal")):
        for n in range(0, 100, 10):
            write_tone(root / "genres" / genre / f"{genre}.{n:05d}.au", g, suffix_format="AU")
    return root


def fake_nsynth(root: Path) -> Path:
    """nsynth-{train,valid,test}/examples.json + audio/<note_str>.wav."""
    for folder, n in (("nsynth-train", 4), ("nsynth-valid", 2), ("nsynth-test", 2)):
        examples = {}
        for i in range(n):
            for f, family in enumerate(("bass", "guitar", "keyboard")):
                note = f"{family}_acoustic_{folder[7:]}{i:02d}-0{60 + f}-100"
                write_tone(root / folder / "audio" / f"{note}.wav", f)
                examples[note] = {"note_str": note, "pitch": 60 + f, "velocity": 100, "instrument_str":
                                  f"{family}_acoustic_{folder[7:]}{i:02d}", "instrument_family_str": family,
                                  "instrument_source_str": "acoustic", "qualities_str": ["bright"]}
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "examples.json").write_text(json.dumps(examples))
    return root


def fake_hear(root: Path, task_name: str = "esc50", folds: int = 0, kind: str = "multiclass",
              mode: str = "full") -> Path:
    """A HEAR preprocessed task folder: task_metadata.json, <split>.json, 16000/<split>/*.wav; `kind` is
    multiclass, multilabel or events."""
    events = kind == "events"
    folder = root / f"{task_name}-v1.0.0-{mode}"
    splits = [f"fold{k:02d}" for k in range(folds)] if folds else ["train", "valid", "test"]
    for split in splits:
        labels = {}
        for i in range(4):
            for c, label in enumerate(CLASSES):
                name = f"{split}_{c}_{i}.wav"
                write_tone(folder / "16000" / split / name, c, seconds=1.0 if events else 0.3)
                both = [label, CLASSES[(c + 1) % 3]] if kind == "multilabel" and i % 2 else [label]
                labels[name] = [{"label": label, "start": 100.0, "end": 600.0}] if events else both
        (folder / f"{split}.json").write_text(json.dumps(labels))
    meta = {"task_name": task_name, "version": "v1.0.0", "mode": mode, "embedding_type":
            "event" if events else "scene", "prediction_type": "multiclass" if kind == "multiclass" else "multilabel",
            "split_mode": "new_split_kfold" if folds else "trainvaltest", "splits": splits,
            "evaluation": ["event_onset_200ms_fms"] if events else ["top1_acc"], "sample_duration": 1.0}
    (folder / "task_metadata.json").write_text(json.dumps(meta))
    return folder


def _xares_label(spec: XaresTask, c: int, i: int) -> Any:
    """The label JSON of fake clip `i` of class `c`: X-ARES's key and separator, or a frame task's event list."""
    if spec.event_keys:  # DESED: class names, ','-joined for two classes at once; MAESTRO: MIDI note numbers
        onset, offset, label = spec.event_keys
        name = CLASSES[c] if spec.separator else 60 + 2 * c
        both = f"{CLASSES[c]}{spec.separator}{CLASSES[(c + 1) % 3]}" if spec.separator and i % 2 else name
        return [{onset: 0.05, offset: 0.15, label: both}, {onset: 0.2, offset: 0.2, label: name}]
    label = CLASSES[c]
    return {spec.label_key: f"{label}{spec.separator}{CLASSES[(c + 1) % 3]}" if spec.separator and i % 2 else label}


def fake_xares(root: Path, task: str = "esc50", folds: tuple[str, ...] = ("1", "2", "3", "4", "5")) -> Path:
    """X-ARES shards of a task: <split or fold shard name>.tar with <key>.wav and <key>.json members; k-fold tasks
    get X-ARES's default shard names wds-audio-fold-<k>-000000.tar for `folds`."""
    import io
    import tarfile

    from bench.prepare.xares import XARES_TASKS

    spec = XARES_TASKS[task]
    shard_names = ([f"wds-audio-fold-{k}-000000.tar" for k in folds] if not spec.splits
                   else [f"{prefix}_0000000.tar" for prefix in dict.fromkeys(spec.splits)])
    root.mkdir(parents=True, exist_ok=True)
    scratch = root / ".scratch.wav"
    # tasks validating on their test shards get bench's validation from 10% of train: give train enough clips
    first = 40 if spec.splits and spec.splits[1] == spec.splits[2] else 4
    for s, shard in enumerate(shard_names):
        with tarfile.open(root / shard, "w") as tar:
            for i in range(first if s == 0 else 2):
                for c in range(len(CLASSES)):
                    key = f"s{s}_{c}_{i}"
                    write_tone(scratch, c)
                    tar.add(scratch, arcname=f"{key}.wav")
                    data = json.dumps(_xares_label(spec, c, i)).encode()
                    info = tarfile.TarInfo(f"{key}.json")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    scratch.unlink()
    return root


def fake_fluentspeechcommands(root: Path) -> Path:
    """fluent_speech_commands_dataset/: data/{train,valid,test}_data.csv + wavs/speakers/<spk>/<uuid>.wav."""
    base = root / "fluent_speech_commands_dataset"
    commands = (("Turn on the lights", "activate", "lights", "none"), ("Volume up", "increase", "volume", "none"),
                ("Stop", "deactivate", "music", "none"))
    for part, speakers in (("train", ("spkA", "spkB", "spkC")), ("valid", ("spkD",)), ("test", ("spkE",))):
        rows = []
        for speaker in speakers:
            for c, (text, action, obj, location) in enumerate(commands):
                rel = f"wavs/speakers/{speaker}/{speaker}-{c}.wav"
                write_tone(base / rel, c)
                rows.append([len(rows), rel, speaker, text, action, obj, location])
        _csv(base / "data" / f"{part}_data.csv", ["", "path", "speakerId", "transcription", "action", "object",
                                                  "location"], rows)
    return root


def fake_vocalsound(root: Path) -> Path:
    """vs_release_16k/: audio_16k/<speaker>_<n>_<label>.wav + meta/{tr,val,te}_meta.csv (speaker, no header)."""
    base = root / "vs_release_16k"
    labels = ("cough", "laughter", "sneeze")
    for name, speakers in (("tr_meta.csv", ("f0001", "m0002", "f0003")), ("val_meta.csv", ("m0004",)),
                           ("te_meta.csv", ("f0005",))):
        (base / "meta").mkdir(parents=True, exist_ok=True)
        (base / "meta" / name).write_text("".join(f"{s},{s[0]},25\n" for s in speakers))
        for speaker in speakers:
            for c, label in enumerate(labels):
                write_tone(base / "audio_16k" / f"{speaker}_0_{label}.wav", c)
    return root


def fake_libricount(root: Path) -> Path:
    """LibriCount10-0dB/test/<count>_<id>.wav, counts 0-2, 10 mixtures each."""
    for count in range(3):
        for i in range(10):
            write_tone(root / "LibriCount10-0dB" / "test" / f"{count}_{i:04x}e1c2.wav", count)
    return root


def fake_beijing_opera(root: Path) -> Path:
    """beijing_opera_percussion_instrument_1.0/<instrument>-<kind>-<n>.wav (label: second-last '-' field)."""
    for c, instrument in enumerate(("bangu", "naobo", "xiaoluo")):
        for i in range(10):
            write_tone(root / "beijing_opera_percussion_instrument_1.0" / f"clip{i}-{instrument}-{i}.wav", c)
    return root


def fake_mridangam(root: Path) -> Path:
    """mridangam_stroke_1.5/<tonic folder>/<artist>__<n>-<stroke>-<tonic>-<k>.wav."""
    for t, tonic in enumerate(("b", "c")):
        for s, stroke in enumerate(("bheem", "cha", "dheem")):
            for k in range(6):
                write_tone(root / "mridangam_stroke_1.5" / f"{tonic.upper()}" / f"artist__{k}-{stroke}-{tonic}-{k}.wav",
                           s + 3 * t)
    return root


def fake_vocal_imitation(root: Path) -> Path:
    """VocalImitationSet/: vocal_imitations.txt (tab-separated) + vocal_imitations/included/*.wav."""
    base = root / "VocalImitationSet"
    lines = ["included\timitation_filename\treference_filename\tparticipant_id"]
    for r, reference in enumerate(("000Dog_bark.wav", "001Siren.wav", "002Rain.wav")):
        for i in range(10):
            name = f"{r:03d}_{i:02d}_imitation.wav"
            write_tone(base / "vocal_imitations" / "included" / name, r)
            lines.append(f"1\t{name}\t{reference}\tp{i}")
    lines.append("0\texcluded.wav\t002Rain.wav\tp99")
    (base / "vocal_imitations.txt").write_text("\n".join(lines) + "\n")
    return root


def fake_voxlingua107_dev(root: Path) -> Path:
    """dev/<language>/<utterance>.wav: 12 languages, the last two with fewer utterances (out of the top 10)."""
    languages = [f"l{k:02d}" for k in range(12)]
    for k, language in enumerate(languages):
        for i in range(12 if k < 10 else 3):
            write_tone(root / "dev" / language / f"{language}_utt{i:02d}.wav", k)
    return root


def fake_fma_small(root: Path) -> Path:
    """fma_metadata/tracks.csv (three header rows) + fma_small/<id[:3]>/<id>.mp3; one medium-only track."""
    header = [["", "artist", "set", "set", "track"], ["", "id", "split", "subset", "genre_top"],
              ["track_id", "", "", "", ""]]
    rows, track = [], 2
    for split, n in (("training", 4), ("validation", 2), ("test", 2)):
        for i in range(n):
            for g, genre in enumerate(("Hip-Hop", "Rock", "Folk")):
                track_id = f"{track:06d}"
                write_tone(root / "fma_small" / track_id[:3] / f"{track_id}.mp3", g, suffix_format="MP3")
                rows.append([track, 100 + i, split, "small", genre])
                track += 1
    rows.append([track, 999, "training", "medium", "Rock"])
    (root / "fma_metadata").mkdir(parents=True, exist_ok=True)
    with (root / "fma_metadata" / "tracks.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows(header + rows)
    return root


def fake_audiocaps(root: Path) -> Path:
    """dataset/{train,val,test}.csv (audiocap_id, youtube_id, start_time, caption; five rows per val/test clip) and
    the audio as users name it (<youtube_id>.wav, Y<youtube_id>.wav); one test clip has no audio (a gone video)."""
    base = root / "dataset"
    audiocap_id = 100
    for part, n_clips, n_captions in (("train", 6, 1), ("val", 3, 5), ("test", 4, 5)):
        rows = []
        for i in range(n_clips):
            youtube_id = f"{part}Vid{i:02d}x"
            for k in range(n_captions):
                audiocap_id += 1
                rows.append([audiocap_id, youtube_id, 30, f"a {CLASSES[i % 3]} sound, version {k}"])
            if not (part == "test" and i == n_clips - 1):
                write_tone(root / "audio" / part / f"{'Y' if i % 2 else ''}{youtube_id}.wav", i % 3)
        _csv(base / f"{part}.csv", ["audiocap_id", "youtube_id", "start_time", "caption"], rows)
    return root


def fake_commonvoice(root: Path) -> Path:
    """cv-corpus-17.0-2024-03-15/en/: {train,dev,test}.tsv (tab-separated, Common Voice's columns) + clips/*.mp3."""
    base = root / "cv-corpus-17.0-2024-03-15" / "en"
    columns = ["client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes", "down_votes", "age",
               "gender", "accents", "variant", "locale", "segment"]
    sentences = ("The dog barks at night.", "Rain falls on the roof.", "A siren wails in the street.")
    for part, speakers in (("train", 3), ("dev", 1), ("test", 1)):
        lines = ["\t".join(columns)]
        for s in range(speakers):
            for c, sentence in enumerate(sentences):
                name = f"common_voice_en_{part}{s}{c}.mp3"
                write_tone(base / "clips" / name, c, suffix_format="MP3")
                lines.append("\t".join([f"{part}client{s}", name, f"sid{c}", sentence, "", "2", "0", "", "", "",
                                        "", "en", ""]))
        base.mkdir(parents=True, exist_ok=True)
        (base / f"{part}.tsv").write_text("\n".join(lines) + "\n")
    return root


def fake_iemocap(root: Path) -> Path:
    """IEMOCAP_full_release/Session1..5/: dialog/EmoEvaluation/<dialog>.txt + sentences/wav/<dialog>/<turn>.wav;
    4 turns per session labelled neu, ang, sad, exc (plus one 'xxx' turn without a majority)."""
    base = root / "IEMOCAP_full_release"
    for session in range(1, 6):
        dialog = f"Ses0{session}F_impro01"
        lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
        for t, emotion in enumerate(("neu", "ang", "sad", "exc", "xxx")):
            turn = f"{dialog}_{'FM'[t % 2]}{t:03d}"
            write_tone(base / f"Session{session}" / "sentences" / "wav" / dialog / f"{turn}.wav", t)
            lines += [f"[{t * 2.0:.4f} - {t * 2.0 + 1.5:.4f}]\t{turn}\t{emotion}\t[2.5000, 2.5000, 2.5000]",
                      f"C-E1:\t{emotion.capitalize()};\t()", ""]
        folder = base / f"Session{session}" / "dialog" / "EmoEvaluation"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{dialog}.txt").write_text("\n".join(lines) + "\n")
    return root
