import textwrap

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
