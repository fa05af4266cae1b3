"""bench.protocols.batched: the lr grid and seeds trained as one batched model pick the same epochs, scores and
predictions as each run trained alone (nn modules and torch.optim.Adam, the probes' former sequential path)."""

import numpy as np
import pytest
import torch

from bench.protocols.batched import ProbeGrid, predict
from bench.protocols.training import fit_members_with_early_stopping, fit_with_early_stopping, snap

CONFIG = {"weight_decay": 1e-4, "batch_size": 16, "max_epochs": 12, "patience": 3, "hidden": 24, "dropout": 0.1}
LRS = [1e-3, 1e-2, 1e-1]


@pytest.fixture(autouse=True)
def one_thread():
    """One BLAS/torch thread, as the probes run (bench.protocols.base.single_threaded): fast on a busy CPU."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _data(n=160, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.normal(size=(classes, d))[y] + rng.normal(size=(n, d)) * 1.5
    return torch.from_numpy(x), torch.from_numpy(y)


def _accuracy(y):
    return lambda out: float((out.argmax(1) == y).double().mean())


def _alone(kind, x, y, x_val, score, lr, run_seed):
    """One run trained alone, as bench.protocols.probe did before the grid was batched."""
    import torch.nn as nn

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(run_seed)
        if kind == "linear":
            model = nn.Linear(x.shape[1], 3, dtype=torch.float64)
        else:
            model = nn.Sequential(nn.Linear(x.shape[1], CONFIG["hidden"], dtype=torch.float64), nn.ReLU(),
                                  nn.Dropout(CONFIG["dropout"]), nn.Linear(CONFIG["hidden"], 3, dtype=torch.float64))
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=CONFIG["weight_decay"])
        snap(model.parameters())
        order = torch.Generator().manual_seed(run_seed)

        def epoch(_):
            model.train()
            for batch in torch.randperm(len(x), generator=order).split(CONFIG["batch_size"]):
                optimizer.zero_grad(set_to_none=True)
                nn.CrossEntropyLoss()(model(x[batch]), y[batch]).backward()
                optimizer.step()
                snap(model.parameters())

        def evaluate():
            model.eval()
            with torch.no_grad():
                return score(model(x_val))

        fit = fit_with_early_stopping(epoch, evaluate, lambda: [p.detach().clone() for p in model.parameters()],
                                      CONFIG["max_epochs"], CONFIG["patience"])
    return fit


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_batched_grid_matches_each_run_trained_alone(kind):
    x, y = _data()
    x_val, y_val = _data(60, seed=1)
    x_test, _ = _data(40, seed=2)
    score = _accuracy(y_val)
    run_seeds = [11, 12]
    before = torch.get_rng_state()
    batched = ProbeGrid(kind, x.shape[1], 3, CONFIG, LRS, run_seeds, "cpu").fit(x, y, x_val, score, "multiclass")
    assert torch.equal(before, torch.get_rng_state())  # the global RNG is left alone
    rounds = set()
    for s, run_seed in enumerate(run_seeds):
        for g, lr in enumerate(LRS):
            alone, together = _alone(kind, x, y, x_val, score, lr, run_seed), batched[s][g]
            assert (together.round, together.rounds) == (alone.round, alone.rounds), (run_seed, lr)
            assert round(together.score, 3) == round(alone.score, 3)
            for a, b in zip(alone.state, together.state, strict=True):
                np.testing.assert_allclose(b.numpy(), a.numpy(), atol=1e-9)
            if kind == "linear":
                np.testing.assert_allclose(predict(together.state, x_test).numpy(),
                                           (x_test @ alone.state[0].T + alone.state[1]).numpy(), atol=1e-9)
            rounds.add(together.rounds)
    assert len(rounds) > 1  # members stopped at different epochs while the others went on


def test_members_stop_on_their_own_and_keep_their_best_round():
    scores = {0: [0.5, 0.7, 0.6, 0.6, 0.6, 0.9], 1: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 2: [float("nan")] * 6}
    seen = []

    def evaluate(active):
        seen.append(list(active))
        return [scores[m][len(seen) - 1] for m in active]

    fits = fit_members_with_early_stopping(lambda r, active: None, evaluate, lambda m: f"m{m}r{len(seen)}", 3, 6, 2)
    assert [(f.round, f.score, f.state, f.rounds) for f in fits[:2]] == [(2, 0.7, "m0r2", 4), (6, 0.6, "m1r6", 6)]
    assert not fits[2].finite and fits[2].rounds == 2
    assert seen == [[0, 1, 2], [0, 1, 2], [0, 1], [0, 1], [1], [1]]  # stopped members leave, the others go on
