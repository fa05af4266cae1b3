import json
import textwrap
from pathlib import Path

import pytest

from bench.encoder import EncoderCard
from bench.registry import EncoderNotFound, build_encoder, registered


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


def test_card_validation():
    with pytest.raises(ValueError, match="sample_rate"):
        EncoderCard(name="x", family="f", sample_rate=0, embed_dim=4, hop_ms=10, license="MIT")
    card = EncoderCard(name="x", family="f", sample_rate=16000, embed_dim=4, hop_ms=10, license="CC-BY-NC-SA-4.0")
    assert card.non_commercial
    assert build_encoder("logmel").card().to_dict()["license"].startswith("none")


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
    import bench
    from conftest import write_task

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
