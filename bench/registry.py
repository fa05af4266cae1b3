"""Find encoders by name: built-ins (`bench.encoders.BUILTIN`), the `bench.encoders` entry-point group of
other packages, `path/to/file.py:Class`, or `package.module:Class`."""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.card import EncoderCard
from bench.encoder import Encoder

ENTRY_POINT_GROUP = "bench.encoders"


class EncoderNotFound(KeyError):
    """An encoder reference that resolves to nothing; the message suggests close names."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    found: dict[str, Any] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found:
            raise ValueError(f"encoder name '{ep.name}' is registered twice in entry-point group "
                             f"'{ENTRY_POINT_GROUP}' ({found[ep.name].value} and {ep.value}); rename one")
        found[ep.name] = ep
    return found


def registered() -> dict[str, str]:
    """All registered encoder names -> where they come from ("module:Class" or entry point value)."""
    from bench.encoders import BUILTIN

    names = {name: f"bench.encoders.{target}" for name, (target, _) in BUILTIN.items()}
    for name, ep in _entry_points().items():
        if name in names:
            raise ValueError(f"encoder name '{name}' from entry point '{ep.value}' clashes with the built-in "
                             f"'{names[name]}'; rename it in that package's entry points")
        names[name] = ep.value
    return names


def _load_file_class(path: Path, attr: str) -> type:
    if not path.exists():
        raise EncoderNotFound(f"encoder file '{path}' does not exist (expected path/to/file.py:ClassName)")
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]  # stable across processes
    module_name = f"bench_user_{path.stem}_{digest}"
    source = path.read_bytes()  # executed from these bytes (no stale bytecode) and hashed into the cache key
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    module.__bench_source_sha256__ = hashlib.sha256(source).hexdigest()
    sys.modules[module_name] = module
    exec(compile(source, str(path), "exec"), module.__dict__)
    if not hasattr(module, attr):
        raise EncoderNotFound(f"'{path}' defines no '{attr}'; classes there: "
                              f"{', '.join(n for n, v in vars(module).items() if isinstance(v, type)) or 'none'}")
    return getattr(module, attr)


def _load_target(target: str) -> Any:
    module, _, attr = target.partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as err:
        raise EncoderNotFound(f"cannot import '{module}' for encoder '{target}': {err}") from err
    if not hasattr(mod, attr):
        raise EncoderNotFound(f"module '{module}' has no attribute '{attr}'")
    return getattr(mod, attr)


def resolve(ref: str) -> tuple[Any, dict]:
    """Turn an encoder reference into (class or factory, default constructor args)."""
    from bench.encoders import BUILTIN

    if ref in BUILTIN:
        target, args = BUILTIN[ref]
        return _load_target(f"bench.encoders.{target}"), dict(args)
    if ":" in ref:
        path_part, _, attr = ref.rpartition(":")
        if path_part.endswith(".py") or "/" in path_part or "\\" in path_part:
            return _load_file_class(Path(path_part), attr), {}
        return _load_target(ref), {}
    eps = _entry_points()
    if ref in eps:
        return eps[ref].load(), {}
    known = sorted(registered())
    close = difflib.get_close_matches(ref, known, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise EncoderNotFound(f"unknown encoder '{ref}'.{hint} Registered: {', '.join(known)}. A file of your own "
                          f"works too: path/to/file.py:ClassName")


def encoder_card(ref: str) -> EncoderCard:
    """The card of an encoder reference, read from its class: nothing is built and no weights are loaded. A
    registered name is the card's name; an invalid card raises a ValueError naming the encoder and the field."""
    factory, args = resolve(ref)
    class_card = getattr(factory, "class_card", None)
    if class_card is None:
        raise TypeError(f"encoder '{ref}' resolves to {factory!r}, not a bench.encoder.Encoder subclass")
    try:
        card = class_card(**args)
        return card if ":" in ref or card.name == ref else replace(card, name=ref)
    except ValueError as err:
        raise ValueError(f"encoder '{ref}': {err}") from err


def encoder_cards() -> dict[str, EncoderCard | str]:
    """The card of every registered encoder by name, or for one whose card cannot be read, why (one line)."""
    cards: dict[str, EncoderCard | str] = {}
    for name in sorted(registered()):
        try:
            cards[name] = encoder_card(name)
        except (ImportError, KeyError, TypeError, ValueError) as err:  # a broken third-party entry point
            cards[name] = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return cards


def build_encoder(ref: str, checkpoint: str | None = None, **init_args: Any) -> Encoder:
    """Instantiate an encoder from a reference; `checkpoint` is passed to wrappers that take one. Every constructor
    argument ends up in `encoder.init_args` (see `Encoder.__init_subclass__`)."""
    factory, args = resolve(ref)
    args.update(init_args)
    if checkpoint is not None:
        args["checkpoint"] = checkpoint
    encoder = factory(**args)
    if not isinstance(encoder, Encoder):
        raise TypeError(f"'{ref}' built a {type(encoder).__name__}, not a bench.encoder.Encoder subclass")
    if ":" not in ref:  # a registered name is the encoder's name in results
        encoder.name = ref
    encoder.reference = ref  # what to pass to `bench check` or `bench run` to build this encoder again
    return encoder
