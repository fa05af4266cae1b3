import json
import textwrap
from pathlib import Path

import pytest

from bench.card import EncoderCard, card_details
from bench.registry import EncoderNotFound, build_encoder, encoder_card, encoder_cards, registered


def test_builtin_names_are_lazy_and_build():
    assert {"logmel", "mfcc"} <= set(registered())
    enc = build_encoder("mfcc")
    assert enc.name == "mfcc" and enc.embed_dim == 40


def test_unknown_name_suggests_close_ones():
    with pytest.raises(EncoderNotFound, match="Did you mean 'mfcc'"):
        build_encoder("mfc")


def test_file_and_module_references(tmp_path):
    path = tmp_path / "my_encoder.py"
    path.write_text(textwrap.dedent("""
        from bench.encoders.baselines import LogMel

        class Mine(LogMel):
            name = "mine"
    """))
    enc = build_encoder(f"{path}:Mine")
    assert type(enc).__name__ == "Mine" and enc.name == "mine"
    assert type(build_encoder("bench.encoders.baselines:MFCC")).__name__ == "MFCC"
    with pytest.raises(EncoderNotFound, match="defines no 'Nope'"):
        build_encoder(f"{path}:Nope")
    with pytest.raises(EncoderNotFound, match="does not exist"):
        build_encoder(f"{tmp_path}/missing.py:Mine")


def test_entry_point_duplicates_raise(monkeypatch):
    from importlib.metadata import EntryPoint

    import bench.registry as registry

    eps = [EntryPoint("dup", "a:B", "bench.encoders"), EntryPoint("dup", "c:D", "bench.encoders")]
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: eps)
    with pytest.raises(ValueError, match="registered twice"):
        registry.registered()
    clash = [EntryPoint("mfcc", "a:B", "bench.encoders")]
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: clash)
    with pytest.raises(ValueError, match="clashes with the built-in"):
        registry.registered()


def test_card_validation_names_the_encoder_and_the_field():
    good = dict(name="x", family="f", sample_rate=16000, embed_dim=4, hop_ms=10.0, license="MIT")
    for field, value in [("sample_rate", 0), ("embed_dim", 2.5), ("hop_ms", -10.0), ("max_seconds", 0),
                         ("parameters", -1), ("license", ""), ("family", " "), ("packages", ("",)),
                         ("sample_rate", None)]:
        with pytest.raises(ValueError, match=rf"invalid card of encoder 'x': {field} "):
            EncoderCard(**{**good, field: value})
    # only a checkpoint-dependent card may leave rate, width, hop and size to the checkpoint
    open_card = EncoderCard(**{**good, "sample_rate": None, "embed_dim": None, "hop_ms": None}, from_checkpoint=True)
    assert open_card.parameters is None and not open_card.non_commercial
    assert EncoderCard(**{**good, "license": "CC-BY-NC-SA-4.0"}).non_commercial
    assert build_encoder("logmel").card().to_dict()["license"].startswith("none")


def test_every_registered_card_validates_without_building_or_loading():
    """Each card is read from the class; an encoder built from the name (nothing loaded) runs with its values."""
    for name in registered():
        card = encoder_card(name)
        assert card.name == name and card.description and card.training_data and card.license
        if card.from_checkpoint:  # the hf-* families: the rest comes from the checkpoint a user passes
            assert name.startswith("hf-") and card.parameters is None
            continue
        assert isinstance(card.parameters, int)
        assert bool(card.packages) == (card.parameters > 0), f"{name}: weights need their package (and a count)"
        assert card.revision == " ".join(card.packages), f"{name}: the revision names the packages of the weights"
        encoder = build_encoder(name)
        assert not encoder._loaded
        built = encoder.card()  # a declared card: nothing to load to count parameters
        assert not encoder._loaded and built == card, f"{name}: the built encoder disagrees with its card"


PLAIN = textwrap.dedent('''
    from bench.encoder import Encoder

    class Plain(Encoder):
        """A plain encoder that declares no card."""

        name, family, license, embed_dim = "plain", "custom", "MIT", 8

        def parameter_count(self):
            return 123
''')


def test_the_card_follows_the_instance_and_a_cardless_class_counts_its_parameters(tmp_path):
    assert build_encoder("logmel", n_mels=32).card().embed_dim == 32 and encoder_card("logmel").embed_dim == 64
    path = tmp_path / "plain.py"
    path.write_text(PLAIN)
    card = encoder_card(f"{path}:Plain")
    assert (card.name, card.parameters, card.description) == ("plain", None, "A plain encoder that declares no card.")
    assert build_encoder(f"{path}:Plain").card().parameters == 123


BROKEN = textwrap.dedent("""
    from bench.card import EncoderCard
    from bench.encoder import Encoder

    class Broken(Encoder):
        CARD = EncoderCard(name="broken", family="custom", license="MIT", sample_rate=16000, embed_dim=8,
                           hop_ms=-20.0)
""")


def test_a_broken_card_fails_naming_the_encoder_and_the_field(tmp_path, monkeypatch):
    from importlib.metadata import EntryPoint

    path = tmp_path / "broken.py"
    path.write_text(BROKEN)
    with pytest.raises(ValueError, match=r"invalid card of encoder 'broken': hop_ms must be a positive number"):
        encoder_card(f"{path}:Broken")
    (tmp_path / "cardless.py").write_text("from bench.encoder import Encoder\n\nclass Zero(Encoder):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: [EntryPoint("zero", "cardless:Zero", group)])
    with pytest.raises(ValueError, match=r"encoder 'zero': invalid card of encoder 'encoder': embed_dim must be"):
        encoder_card("zero")
    listed = encoder_cards()  # the list still shows every other encoder, and why this one has no card
    assert "embed_dim" in listed["zero"] and isinstance(listed["mfcc"], EncoderCard)


def test_list_encoders_shows_each_card_and_details_show_one(capsys):
    from bench.cli import main

    assert main(["list", "encoders"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    for name, card in encoder_cards().items():
        assert name in rows and (card.revision or "-") in rows[name]
        assert ("[non-commercial]" in rows[name]) == card.non_commercial
    assert main(["list", "encoders", "--details", "openwakeword"]) == 0
    out, card = capsys.readouterr().out, encoder_card("openwakeword")
    assert out.strip() == card_details(card)
    assert "non_commercial   True" in out and f"parameters       {card.parameters:,}" in out


def test_list_encoders_imports_no_torch():
    import subprocess
    import sys

    code = ("import sys\nfrom bench.cli import main\nmain(['list', 'encoders'])\n"
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False"


def test_revision_reads_the_installed_version_else_the_pin(monkeypatch):
    import importlib.metadata

    from bench.encoders.packaged import revision

    def version(name):
        if name == "present":
            return "2.0"
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    assert revision("present==1.0", "absent==0.3") == "present==2.0 absent==0.3"


PROJECTION = textwrap.dedent("""
    from bench.encoders.baselines import MFCC

    class Projection(MFCC):
        '''A wrapper that keeps its own arguments and never passes them to super().__init__.'''

        name = "projection"

        def __init__(self, seed: int = 0, scale: float = 1.0) -> None:
            super().__init__()
            self.seed, self.scale = seed, scale
""")


def test_constructor_arguments_reach_init_args_and_the_key(tmp_path):
    from bench.extract import encoder_key

    path = tmp_path / "projection.py"
    path.write_text(PROJECTION)
    zero, one = build_encoder(f"{path}:Projection"), build_encoder(f"{path}:Projection", seed=1)
    assert zero.init_args == {"seed": 0, "scale": 1.0, "n_mfcc": 20, "n_mels": 64, "win_ms": 25.0}
    assert one.init_args["seed"] == 1
    assert encoder_key(zero, "last")[0] != encoder_key(one, "last")[0]
    assert encoder_key(zero, "last")[0] == encoder_key(build_encoder(f"{path}:Projection", seed=0), "last")[0]


EDITED = """
    def encode(self, waveforms, mask):
        import torch

        out = super().encode(waveforms, mask)
        out.frames = torch.randn(out.frames.shape, generator=torch.Generator().manual_seed(0))
        return out
"""


def test_editing_a_file_encoder_changes_its_key_and_its_results(tmp_path, tone_dataset):
    from conftest import write_task

    import bench

    task = str(write_task(tmp_path / "tasks", tone_dataset, protocols=("knn",)))
    path = tmp_path / "mine.py"
    path.write_text("from bench.encoders.baselines import MFCC\n\nclass Mine(MFCC):\n    name = 'mine'\n")

    def score(cache: str) -> tuple[str, float]:
        record = bench.run(f"{path}:Mine", tasks=[task], out=tmp_path / "res", cache_dir=tmp_path / cache,
                           progress=False, force=True, check=False)[0]
        return record["cache"]["key"], record["protocols"][0]["main_score"]["value"]

    before_key, before = score("cache")
    path.write_text(path.read_text() + EDITED)  # a weight-free encoder: only its code says what it computes
    after_key, after = score("cache")
    fresh_key, fresh = score("fresh-cache")
    assert after_key != before_key and after_key == fresh_key
    assert after == fresh and after != before


def test_module_encoder_key_follows_its_module_source(tmp_path, monkeypatch):
    import sys

    from bench.extract import encoder_key

    module = tmp_path / "my_enc_module.py"
    module.write_text(PROJECTION)
    monkeypatch.syspath_prepend(str(tmp_path))
    first = encoder_key(build_encoder("my_enc_module:Projection"), "last")
    module.write_text(PROJECTION + "\n# a later edit (a new process imports the module again)\n")
    monkeypatch.delitem(sys.modules, "my_enc_module")
    second = encoder_key(build_encoder("my_enc_module:Projection"), "last")
    assert first[1]["source_sha256"] and first[0] != second[0]


@pytest.mark.parametrize("name", ["mfcc", "logmel"])
def test_builtin_keys_are_unchanged_so_existing_caches_stay_valid(name):
    from bench.extract import encoder_key

    committed = sorted((Path(__file__).parents[1] / "results" / name).glob("*.json"))
    if not committed:
        pytest.skip(f"no committed results for {name}")
    record = json.loads(committed[0].read_text())
    assert record["layer"] == "last" and record["env"]["dtype"] == "float32"
    key, description = encoder_key(build_encoder(name), "last")
    assert key == record["cache"]["key"] and "source_sha256" not in description
