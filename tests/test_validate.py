"""The protocol registry (schemas, metric directions) and task validation before any encoder is loaded."""

import re

import pytest

from bench.protocols.registry import (PROTOCOLS, higher_is_better, protocol_defaults, protocol_function,
                                      validate_protocol_config)
from bench.taskspec import parse_task

BASE = {
    "name": "t", "version": 1, "domain": "sound",
    "dataset": {"source": "manifest", "path": "x"},
    "label": {"kind": "multiclass"}, "split": {"column": "split"}, "protocols": ["linear"],
}


def _task(protocol: dict, **changes):
    return parse_task({**BASE, **changes, "protocols": [protocol]}, "tasks/demo.yaml")


def test_every_registered_protocol_resolves_its_function_and_defaults():
    for kind in PROTOCOLS:
        assert callable(protocol_function(kind)) and protocol_defaults(kind)
    assert protocol_function("telepathy") is None


def test_registry_defaults_are_the_protocol_modules_constants():
    from bench.protocols import generative, knn, probe

    assert protocol_defaults("linear") == probe.LINEAR_DEFAULTS and protocol_defaults("knn") == knn.KNN_DEFAULTS
    assert protocol_defaults("generative") == {**generative.NUMERIC_DEFAULTS, **generative.OTHER_DEFAULTS}


@pytest.mark.parametrize("metric, up", [("accuracy", True), ("map", True), ("r2", True), ("mae", False),
                                        ("eer", False), ("min_dcf_0.01", False), ("min_dcf_0.3", False),
                                        ("der", False), ("der_oracle", False), ("count_accuracy", True),
                                        ("a2t_r@1", True), ("t2a_medr", False), ("onset_f1", True),
                                        ("wer", False), ("text_only_cer", False), ("bleu", True),
                                        ("unparseable_rate", False)])
def test_metric_directions(metric, up):
    assert higher_is_better(metric) is up


def test_unknown_metric_is_named():
    with pytest.raises(KeyError, match="'acuracy'"):
        higher_is_better("acuracy")


@pytest.mark.parametrize("protocol, key", [
    ({"kind": "linear", "lr": [0.1]}, "lr"),  # typo of lrs
    ({"kind": "linear", "lrs": 0.1}, "lrs"),  # not a list
    ({"kind": "linear", "max_epochs": 10.5}, "max_epochs"),
    ({"kind": "knn", "k": "ten"}, "k"),
    ({"kind": "mlp", "dropout": True}, "dropout"),
    ({"kind": "linear", "lrs": ["fast"]}, "lrs"),
])
def test_protocol_config_errors_name_file_protocol_and_key(protocol, key):
    task = _task(protocol)
    with pytest.raises(ValueError) as err:
        validate_protocol_config(task, task.protocols[0])
    message = str(err.value)
    assert message.startswith(f"tasks/demo.yaml: protocol '{protocol['kind']}': ")
    assert re.search(rf"(config '{key}' must be|unknown config key\(s\) {key};)", message)


@pytest.mark.parametrize("protocol, label_kind, key, allowed", [
    ({"kind": "verification", "main_score": "eer", "score_norm": "znorm"}, "trials", "score_norm", "snorm"),
    ({"kind": "qbe", "pooled_match": "farthest"}, "multiclass", "pooled_match", "centroid"),
    ({"kind": "retrieval", "main_score": "a2t_r@1", "backend": "annoy"}, "captions", "backend", "faiss"),
    ({"kind": "generative", "tier": "huge"}, "multiclass", "tier", "standard"),
    ({"kind": "diarization", "main_score": "der", "centre": "test"}, "segments", "centre", "train"),
])
def test_values_outside_choices_list_the_choices(protocol, label_kind, key, allowed):
    task = _task(protocol, label={"kind": label_kind})
    with pytest.raises(ValueError, match=rf"tasks/demo.yaml: protocol '{protocol['kind']}': config '{key}' .*{allowed}"):
        validate_protocol_config(task, task.protocols[0])


def test_valid_configs_pass_including_nullable_keys():
    for protocol, label_kind in [({"kind": "linear", "lrs": [1e-3, 1], "max_epochs": 5}, "multiclass"),
                                 ({"kind": "verification", "main_score": "eer", "cohort_top_k": None}, "trials"),
                                 ({"kind": "verification", "main_score": "eer", "cohort_top_k": 50}, "trials"),
                                 ({"kind": "zeroshot", "heldout_classes": ["a", "b"], "text_column": None},
                                  "multiclass"),
                                 ({"kind": "generative", "tier": "standard", "prompt": "Say it."}, "multiclass")]:
        task = _task(protocol, label={"kind": label_kind})
        assert validate_protocol_config(task, task.protocols[0]) is None
