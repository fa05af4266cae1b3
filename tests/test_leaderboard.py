"""Leaderboard rows from hand-made result records."""

from bench.leaderboard import build, long_rows


def _record(encoder: str, value: float, variant: str | None) -> dict:
    config = {"variant": variant} if variant else {}
    return {"encoder": {"name": encoder, "weights_sha256": "ab" * 32},
            "task": {"name": "t/gen", "version": 1, "domain": "speech", "chance": 0.1},
            "protocols": [{"kind": "generative", "config": config,
                           "main_score": {"name": "accuracy", "value": value, "ci95": [value - 0.1, value + 0.1],
                                          "higher_is_better": True}}]}


def test_protocol_variants_are_told_apart_and_domain_means_average_tasks():
    rows = long_rows([_record("a", 0.5, "projector"), _record("b", 0.7, "projector+lora"), _record("c", 0.2, None)])
    assert [r["protocol"] for r in rows] == ["generative[projector]", "generative[projector+lora]", "generative"]
    _, wide = build([_record("a", 0.5, "projector"), _record("b", 0.7, "projector")])
    assert list(wide.index) == ["b", "a"] and wide.loc["a", "overall"] == 0.5 and wide.loc["b", "mean:speech"] == 0.7


def test_a_domain_mean_needs_every_task_of_the_domain():
    full = [_record("a", 0.5, None), {**_record("a", 0.7, None), "task": {"name": "t/other", "version": 1,
                                                                          "domain": "speech", "chance": 0.1}}]
    partial = [_record("b", 0.9, None)]  # b ran one of the two speech tasks only
    _, wide = build(full + partial)
    assert wide.loc["a", "mean:speech"] == 0.6 and wide.loc["a", "overall"] == 0.6
    assert wide.loc["b", "mean:speech"] != wide.loc["b", "mean:speech"]  # NaN, not 0.9
    assert list(wide.index) == ["a", "b"]  # the incomplete encoder is listed last, not first


def test_bleu_enters_domain_means_on_the_unit_scale():
    accuracy = _record("a", 0.6, None)
    bleu = {**_record("a", 20.0, None), "task": {"name": "t/captions", "version": 1, "domain": "speech", "chance": 0.0}}
    bleu["protocols"][0]["main_score"] = {"name": "bleu", "value": 20.0, "ci95": [10.0, 30.0], "higher_is_better": True}
    _, wide = build([accuracy, bleu])
    assert abs(wide.loc["a", "mean:speech"] - (0.6 + 0.2) / 2) < 1e-12
    assert wide.loc["a", "t/captions"] == 20.0  # the table keeps BLEU as sacrebleu reports it
