"""Which datasets `bench data prepare` knows: name -> preparer function and the facts its card states.

Importing this module is light (no preparer module is imported until one runs). Names starting with `hear-` are
HEAR 2021 preprocessed task folders and names starting with `xares-` X-ARES webdataset shards (one reader each).
"""

from __future__ import annotations

from dataclasses import dataclass

UNCHECKED = "not checked in this session: see the Zenodo record"


@dataclass(frozen=True)
class DatasetInfo:
    """One preparable dataset and the facts written into its card."""

    name: str
    target: str  # "module:function", called as function(src: Path) -> Prepared
    title: str
    published_at: str  # where a user downloads it (bench never does)
    license: str
    redistribution: str  # whether the license allows passing copies on
    citation: str
    layout_source: str  # where the layout facts the preparer relies on come from


_INFOS = (
    DatasetInfo(
        "esc50", "bench.prepare.sound:prepare_esc50", "ESC-50: Dataset for Environmental Sound Classification",
        "https://github.com/karolpiczak/ESC-50 (archive master.zip)", "CC BY-NC 3.0 (per clip, from freesound.org)",
        "allowed non-commercially with attribution", "K. J. Piczak, ESC: Dataset for Environmental Sound "
        "Classification, ACM Multimedia 2015", "the dataset's README (meta/esc50.csv columns filename, fold, target, "
        "category, esc10, src_file, take; audio/*.wav) and X-ARES src/tasks/esc50/make_audio_tar.py, which reads it"),
    DatasetInfo(
        "urbansound8k", "bench.prepare.sound:prepare_urbansound8k", "UrbanSound8K",
        "https://urbansounddataset.weebly.com/urbansound8k.html", "CC BY-NC 3.0",
        "allowed non-commercially with attribution", "J. Salamon, C. Jacoby, J. P. Bello, A Dataset and Taxonomy for "
        "Urban Sound Research, ACM Multimedia 2014", "the dataset's README (metadata/UrbanSound8K.csv columns "
        "slice_file_name, fsID, start, end, salience, fold, classID, class; audio/fold1..fold10/)"),
    DatasetInfo(
        "fsd50k", "bench.prepare.sound:prepare_fsd50k", "FSD50K", "https://zenodo.org/records/4060432",
        "CC BY 4.0 (the dataset; clips carry their own CC licences, some NC)",
        "allowed with attribution (check the per-clip licences for commercial use)", "E. Fonseca et al., FSD50K: an "
        "Open Dataset of Human-Labeled Sound Events, IEEE/ACM TASLP 2022", "the dataset's README (FSD50K.ground_truth/"
        "dev.csv columns fname, labels, mids, split; eval.csv columns fname, labels, mids; FSD50K.dev_audio/, "
        "FSD50K.eval_audio/)"),
    DatasetInfo(
        "clotho", "bench.prepare.sound:prepare_clotho", "Clotho v2.1", "https://zenodo.org/records/4783391",
        "Tampere University licence for non-commercial use (audio from freesound.org under CC licences)",
        "non-commercial use only; see the archive's LICENSE", "K. Drossos, S. Lipping, T. Virtanen, Clotho: An Audio "
        "Captioning Dataset, ICASSP 2020", "the dataset's Zenodo page (clotho_captions_{development,validation,"
        "evaluation}.csv columns file_name, caption_1..caption_5; audio in development/, validation/, evaluation/)"),
    DatasetInfo(
        "speechcommands", "bench.prepare.speech:prepare_speechcommands", "Speech Commands v0.02",
        "https://www.tensorflow.org/datasets/catalog/speech_commands (speech_commands_v0.02.tar.gz)", "CC BY 4.0",
        "allowed with attribution", "P. Warden, Speech Commands: A Dataset for Limited-Vocabulary Speech "
        "Recognition, arXiv:1804.03209", "the archive's README.md (<word>/<speaker>_nohash_<n>.wav, "
        "validation_list.txt and testing_list.txt list relative paths; everything else is train)"),
    DatasetInfo(
        "voxceleb1", "bench.prepare.speech:prepare_voxceleb1", "VoxCeleb1",
        "https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox1.html", "CC BY 4.0 (metadata); audio from YouTube",
        "the audio may not be redistributed (the authors share it for research only)", "A. Nagrani, J. S. Chung, "
        "A. Zisserman, VoxCeleb: a large-scale speaker identification dataset, Interspeech 2017", "the dataset page "
        "(wav/<id>/<video>/<n>.wav; iden_split.txt lines '<1|2|3> <id>/<video>/<n>.wav' for train/val/test; "
        "veri_test2.txt lines '<0|1> <enroll> <test>')"),
    DatasetInfo(
        "librispeech", "bench.prepare.speech:prepare_librispeech", "LibriSpeech ASR corpus",
        "https://www.openslr.org/12", "CC BY 4.0", "allowed with attribution", "V. Panayotov et al., LibriSpeech: an "
        "ASR corpus based on public domain audio books, ICASSP 2015", "the corpus README (LibriSpeech/<subset>/<spk>/"
        "<chapter>/<spk>-<chapter>-<utt>.flac, <spk>-<chapter>.trans.txt lines '<utt-id> <TRANSCRIPT>', "
        "SPEAKERS.TXT lines 'ID | SEX | SUBSET | MINUTES | NAME')"),
    DatasetInfo(
        "cremad", "bench.prepare.speech:prepare_cremad", "CREMA-D", "https://github.com/CheyneyComputerScience/CREMA-D",
        "Open Database License (ODbL) / Database Contents License", "allowed under the ODbL", "H. Cao et al., CREMA-D: "
        "Crowd-sourced Emotional Multimodal Actors Dataset, IEEE Trans. Affective Computing 2014", "the repository "
        "README (AudioWAV/<actor>_<sentence>_<emotion>_<level>.wav, emotions ANG DIS FEA HAP NEU SAD)"),
    DatasetInfo(
        "ravdess", "bench.prepare.speech:prepare_ravdess", "RAVDESS (speech audio)",
        "https://zenodo.org/records/1188976 (Audio_Speech_Actors_01-24.zip)", "CC BY-NC-SA 4.0",
        "allowed non-commercially, share-alike", "S. R. Livingstone, F. A. Russo, The Ryerson Audio-Visual Database of "
        "Emotional Speech and Song (RAVDESS), PLoS ONE 2018", "the Zenodo description (Actor_XX/03-01-EE-II-SS-RR-AA"
        ".wav: modality, vocal channel, emotion 01-08, intensity, statement, repetition, actor; odd actors male)"),
    DatasetInfo(
        "fluentspeechcommands", "bench.prepare.speech:prepare_fluentspeechcommands", "Fluent Speech Commands",
        "https://fluent.ai/fluent-speech-commands-a-dataset-for-spoken-language-understanding-research/",
        "Fluent Speech Commands Public License (academic research only)", "no: research use, no redistribution",
        "L. Lugosch et al., Speech Model Pre-training for End-to-End Spoken Language Understanding, Interspeech 2019",
        "the dataset's layout (data/{train,valid,test}_data.csv columns ,path,speakerId,transcription,action,object,"
        "location; wavs/speakers/<speakerId>/*.wav), as loaders of the standard release read it"),
    DatasetInfo(
        "vocalsound", "bench.prepare.speech:prepare_vocalsound", "VocalSound (16 kHz release)",
        "https://github.com/YuanGongND/vocalsound (vs_release_16k.zip)", "CC BY-SA 4.0",
        "allowed with attribution, share-alike", "Y. Gong, J. Yu, J. Glass, VocalSound: A Dataset for Improving Human "
        "Vocal Sounds Recognition, ICASSP 2022", "X-ARES src/tasks/vocalsound/make_audio_tar.py (audio_16k/"
        "<speaker>_..._<label>.wav; meta/tr_meta.csv, val_meta.csv, te_meta.csv: speaker in the first column)"),
    DatasetInfo(
        "libricount", "bench.prepare.small:prepare_libricount", "LibriCount10 0dB",
        "https://zenodo.org/records/1216072 (LibriCount10-0dB.zip)", UNCHECKED, UNCHECKED,
        "F.-R. Stöter et al., CountNet: Estimating the Number of Concurrent Speakers Using Supervised Learning, "
        "IEEE/ACM TASLP 2019", "hear-preprocess hearsecrettasks/libricount.py (test/*.wav, count = file name before "
        "the first '_')"),
    DatasetInfo(
        "beijing_opera", "bench.prepare.small:prepare_beijing_opera", "Beijing Opera Percussion Instrument 1.0",
        "https://zenodo.org/records/1285212 (beijing_opera_percussion_instrument_1.0.zip)", UNCHECKED, UNCHECKED,
        "the Zenodo record's citation", "hear-preprocess hearsecrettasks/beijing_opera.py "
        "(beijing_opera_percussion_instrument_1.0/*.wav, label = second-last '-' field)"),
    DatasetInfo(
        "mridangam", "bench.prepare.small:prepare_mridangam", "Mridangam Stroke 1.5",
        "https://zenodo.org/records/4068196 (mridangam_stroke_1.5.zip)", UNCHECKED, UNCHECKED,
        "the Zenodo record's citation", "hear-preprocess hearsecrettasks/mridangam_stroke.py and mridangam_tonic.py "
        "(stroke = third-last, tonic = second-last '-' field)"),
    DatasetInfo(
        "vocal_imitation", "bench.prepare.small:prepare_vocal_imitation", "VocalImitationSet v1.1.3",
        "https://zenodo.org/records/1340763 (VocalImitationSet_v1.1.3.zip)", UNCHECKED, UNCHECKED,
        "the Zenodo record's citation", "hear-preprocess hearsecrettasks/vocal_imitation.py (VocalImitationSet/"
        "vocal_imitations.txt, tab-separated; vocal_imitations/included/*.wav; label = reference_filename)"),
    DatasetInfo(
        "voxlingua107_dev", "bench.prepare.small:prepare_voxlingua107_dev", "VoxLingua107, dev set",
        "http://bark.phon.ioc.ee/voxlingua107/ (dev.zip)", "CC BY 4.0", "allowed with attribution",
        "J. Valk, T. Alumäe, VoxLingua107: a Dataset for Spoken Language Recognition, IEEE SLT 2021",
        "hear-preprocess hearsecrettasks/vox_lingua_top10.py (dev.zip, label = the audio file's folder; the 10 most "
        "frequent languages)"),
    DatasetInfo(
        "audiocaps", "bench.prepare.maeb:prepare_audiocaps", "AudioCaps",
        "https://github.com/cdjkim/audiocaps (dataset/train.csv, val.csv, test.csv; the audio is YouTube clips, "
        "which you fetch yourself)", "captions: not checked in this session (see the repository's LICENSE); audio: "
        "each YouTube video's terms", "the audio may not be redistributed (YouTube's terms)",
        "C. D. Kim et al., AudioCaps: Generating Captions for Audios in The Wild, NAACL 2019",
        "the repository's dataset/*.csv (columns audiocap_id, youtube_id, start_time, caption; 10 s from "
        "start_time of each video); MAEB's AudioCaps retrieval tasks "
        "(mteb/tasks/Audio) read Hugging Face copies of the test split"),
    DatasetInfo(
        "commonvoice", "bench.prepare.maeb:prepare_commonvoice", "Mozilla Common Voice (one or more languages)",
        "https://commonvoice.mozilla.org/datasets (cv-corpus-<version>-<date>/<language>/)", "CC0 1.0",
        "allowed (public domain dedication); do not try to identify speakers", "R. Ardila et al., Common Voice: A "
        "Massively-Multilingual Speech Corpus, LREC 2020", "the release layout (<language>/{train,dev,test}.tsv, "
        "tab-separated with a header holding client_id, path, sentence; audio clips/<path>), as MAEB's "
        "CommonVoice17 tasks read the Hugging Face copy of release 17.0"),
    DatasetInfo(
        "iemocap", "bench.prepare.maeb:prepare_iemocap", "IEMOCAP (audio of the full release)",
        "https://sail.usc.edu/iemocap/ (IEMOCAP_full_release, after signing its release form)",
        "USC SAIL licence agreement (research use; release form required)", "no: obtain it from USC SAIL",
        "C. Busso et al., IEMOCAP: Interactive emotional dyadic motion capture database, Language Resources and "
        "Evaluation 42(4), 2008", "the release layout as common loaders read it, not checked against its README in "
        "this session (Session<n>/dialog/EmoEvaluation/<dialog>.txt lines '[start - end]<TAB>turn<TAB>emotion<TAB>"
        "[V, A, D]'; Session<n>/sentences/wav/<dialog>/<turn>.wav); label names as MAEB's IEMOCAPEmotion"),
    DatasetInfo(
        "gtzan", "bench.prepare.music:prepare_gtzan", "GTZAN Genre Collection",
        "http://marsyas.info/downloads/datasets.html (genres.tar.gz)", "no licence stated (research use)",
        "unclear: the clips are copyrighted recordings", "G. Tzanetakis, P. Cook, Musical genre classification of "
        "audio signals, IEEE TSAP 2002", "the archive (genres/<genre>/<genre>.000NN.au, 10 genres x 100; "
        "converted copies hold .wav)"),
    DatasetInfo(
        "fma_small", "bench.prepare.music:prepare_fma_small", "FMA: A Dataset for Music Analysis (small subset)",
        "https://github.com/mdeff/fma (fma_small.zip, fma_metadata.zip)", "CC BY 4.0 (metadata); each track keeps "
        "its artist's licence", "metadata yes; audio per track licence", "M. Defferrard et al., FMA: A Dataset for "
        "Music Analysis, ISMIR 2017", "the FMA repository README (fma_metadata/tracks.csv with a two-level header: "
        "set.split, set.subset, track.genre_top; audio fma_small/<first 3 digits>/<6-digit id>.mp3)"),
    DatasetInfo(
        "nsynth", "bench.prepare.music:prepare_nsynth", "NSynth", "https://magenta.tensorflow.org/datasets/nsynth",
        "CC BY 4.0", "allowed with attribution", "J. Engel et al., Neural Audio Synthesis of Musical Notes with "
        "WaveNet Autoencoders, ICML 2017", "the dataset page (nsynth-{train,valid,test}/examples.json keyed by "
        "note_str with pitch, velocity, instrument_str, instrument_family_str, instrument_source_str, qualities_str; "
        "audio/<note_str>.wav)"),
)

DATASETS: dict[str, DatasetInfo] = {info.name: info for info in _INFOS}

HEAR_INFO = DatasetInfo(
    "hear-*", "bench.prepare.hear:prepare_hear", "HEAR 2021 preprocessed task",
    "https://zenodo.org/records/5887964 (hear-2021.0.6 tarballs, one per task)",
    "per task: the licence of its source dataset (see the task's own documentation)",
    "as the source dataset's licence", "J. Turian et al., HEAR: Holistic Evaluation of Audio Representations, "
    "PMLR 176 (NeurIPS 2021 competition)", "hear-eval-kit heareval/predictions/task_predictions.py (task_metadata.json "
    "with split_mode trainvaltest|new_split_kfold|presplit_kfold and splits; <split>.json maps file name -> labels "
    "or events {label, start, end} in ms; audio in <sample rate>/<split>/)")

XARES_INFO = DatasetInfo(
    "xares-*", "bench.prepare.xares:prepare_xares", "X-ARES task audio (webdataset shards)",
    "the Zenodo record named by each task's zenodo_id in X-ARES src/tasks/<task>_task.py",
    "per task: the licence of its source dataset", "as the source dataset's licence",
    "J. Zhang et al., X-ARES: A Comprehensive Framework for Assessing Audio Encoder Performance, Interspeech 2025",
    "X-ARES src/xares/audiowebdataset.py write_audio_tar (members <key>.<audio suffix> and <key>.json with the "
    "labels) and src/xares/task.py (shards named <split>*.tar, k-fold shards wds-audio-fold-<k>-*.tar)")


def dataset_info(name: str) -> DatasetInfo:
    """The facts of a preparable dataset; KeyError naming close matches and the known names."""
    if name.startswith("hear-") and len(name) > 5:
        return HEAR_INFO
    if name.startswith("xares-") and len(name) > 6:
        from dataclasses import replace

        from bench.prepare.xares import XARES_TASKS

        task = XARES_TASKS.get(name.removeprefix("xares-"))
        if task is None:
            return XARES_INFO
        return replace(XARES_INFO, name=name, published_at=f"https://zenodo.org/records/{task.zenodo_id} (the "
                                                           f"X-ARES task's audio shards)")
    if name in DATASETS:
        return DATASETS[name]
    import difflib

    close = difflib.get_close_matches(name, DATASETS, n=3)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise KeyError(f"no preparer for dataset '{name}'.{hint} Known: {', '.join(sorted(DATASETS))}, hear-<task> "
                   f"(a HEAR preprocessed task folder), xares-<task> (X-ARES webdataset shards); see `bench data list`")
