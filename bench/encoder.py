"""The encoder contract: what every wrapper in `encoders/` (or a user's file) implements.

An encoder turns a batch of mono waveforms at its declared `sample_rate` into frames at its declared hop.
Loading is lazy: constructing an encoder must be cheap; weights are read in `load()`.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from bench.card import EncoderCard

if TYPE_CHECKING:  # torch is imported inside functions only, so that `import bench` stays light
    import torch

# the instance attributes that a card states, copied from a declared card (and read back by `Encoder.card`)
CARD_ATTRIBUTES = ("name", "family", "license", "training_data", "sample_rate", "embed_dim", "hop_ms", "max_seconds")


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n")[0]


@dataclass
class Frames:
    """Output of `Encoder.encode`.

    frames: float tensor [B, T, D]; mask: bool tensor [B, T] (True = a real frame, False = padding);
    hidden_states: optional list of [B, T, D] tensors, one per layer (input embedding first, last layer last).
    """

    frames: torch.Tensor
    mask: torch.Tensor
    hidden_states: list[torch.Tensor] | None = None


BUILTIN_PACKAGE = "bench."  # classes from modules under this prefix are the harness's own wrappers


def _bound_arguments(init: Callable[..., None], self: Any, args: tuple, kwargs: dict) -> dict[str, Any]:
    """The arguments of one `__init__` call by parameter name, defaults applied, `**kwargs` flattened."""
    bound = inspect.signature(init).bind(self, *args, **kwargs)
    bound.apply_defaults()
    params = inspect.signature(init).parameters
    out: dict[str, Any] = {}
    for index, (name, value) in enumerate(bound.arguments.items()):
        if index == 0:  # self
            continue
        if params[name].kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        elif params[name].kind is inspect.Parameter.VAR_POSITIONAL:
            out[name] = list(value)
        else:
            out[name] = value
    return out


def _recording_init(init: Callable[..., None]) -> Callable[..., None]:
    """Wrap a subclass `__init__` so that the outermost call records every constructor argument in `init_args`
    (defaults applied), also those the wrapper never passes to `Encoder.__init__`."""

    @functools.wraps(init)
    def wrapper(self: Encoder, *args: Any, **kwargs: Any) -> None:
        outermost = not self.__dict__.get("_recording_init_args", False)
        self.__dict__["_recording_init_args"] = True
        try:
            init(self, *args, **kwargs)
        finally:
            if outermost:
                del self.__dict__["_recording_init_args"]
        if outermost:
            recorded = dict(getattr(self, "init_args", None) or {})
            self._wrapper_init_args = recorded
            self.init_args = {**_bound_arguments(init, self, args, kwargs), **recorded}

    wrapper._records_init_args = True  # type: ignore[attr-defined]
    return wrapper


def _file_sha256(cls: type) -> str | None:
    """sha256 of the source file that defines `cls` (the bytes the registry executed, when it loaded the file)."""
    module = sys.modules.get(cls.__module__)
    executed = getattr(module, "__bench_source_sha256__", None)
    if executed:
        return executed
    try:
        path = inspect.getsourcefile(cls) or inspect.getfile(cls)
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except (TypeError, OSError):  # defined interactively or in a module without a file
        return None


class Encoder:
    """Base class of every encoder wrapper.

    Subclasses declare a `CARD` (an `EncoderCard`, which sets the class attributes name, family, license,
    training_data, sample_rate, embed_dim, hop_ms and max_seconds) or set those attributes themselves (or override
    them in `__init__`), implement `encode`, and may override `load` (read weights lazily), `weights_sha256` (hash
    of the weights actually used) and `parameter_count`. `init_args` records the constructor arguments so that a
    result can be reproduced:
    every argument of the subclass's `__init__` (defaults applied) is captured automatically. Set
    `wrapper_version` higher whenever a change to a built-in wrapper changes its outputs: it is part of the
    embedding cache key (for encoders outside the harness, the source file's hash is part of it too).
    """

    name: str = "encoder"
    family: ClassVar[str] = "custom"
    license: ClassVar[str] = "unknown"
    sample_rate: int = 16000
    embed_dim: int = 0
    hop_ms: float = 10.0
    max_seconds: float | None = None
    wrapper_version: ClassVar[str] = "1"
    training_data: ClassVar[str] = "unknown"
    reference: str | None = None  # how the registry was asked for it (a name, `file.py:Class`, `module:Class`)
    CARD: ClassVar[EncoderCard | None] = None  # the static card; see `declared_card`

    _source_sha256: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Adopt a declared `CARD` (its description defaults to the docstring's first line), record each subclass's
        source hash at definition time and wrap its `__init__` to capture arguments."""
        super().__init_subclass__(**kwargs)
        card = cls.__dict__.get("CARD")
        if card is not None:
            if not isinstance(card, EncoderCard):
                raise TypeError(f"{cls.__qualname__}.CARD must be a bench.card.EncoderCard, not {type(card).__name__}")
            if not card.description and cls.__doc__:
                cls.CARD = card = replace(card, description=_first_line(cls.__doc__))
            for attr, value in _card_attributes(card).items():
                setattr(cls, attr, value)
        cls._source_sha256 = None if cls.__module__.startswith(BUILTIN_PACKAGE) else _file_sha256(cls)
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "_records_init_args", False):
            cls.__init__ = _recording_init(init)  # type: ignore[method-assign]

    def __init__(self, **init_args: Any) -> None:
        self.init_args: dict[str, Any] = dict(init_args)
        self.device = "cpu"
        self.dtype = "float32"
        self._loaded = False

    # -- lifecycle -------------------------------------------------------------------------------
    def load(self, device: str = "cpu", dtype: str = "float32") -> Encoder:
        """Read weights and move to `device` in `dtype`; idempotent. Subclasses extend `_load`."""
        if not self._loaded or (device, dtype) != (self.device, self.dtype):
            self.device, self.dtype = device, dtype
            self._load()
            self._loaded = True
        return self

    def _load(self) -> None:
        """Read weights; nothing to do for weight-free encoders."""

    # -- the contract ----------------------------------------------------------------------------
    def encode(self, waveforms: torch.Tensor, mask: torch.Tensor) -> Frames:
        """Encode a padded batch: waveforms [B, N] float at `sample_rate`, mask [B, N] bool (True = real)."""
        raise NotImplementedError

    def source_sha256(self) -> str | None:
        """sha256 over the source files of the encoder classes in this class's lineage that are not part of the
        harness (a user's `file.py:Class` or `module:Class` and any user module it builds on); None for the
        built-in wrappers, whose outputs are versioned by `wrapper_version` instead."""
        files = [(c.__module__, c.__qualname__, c.__dict__.get("_source_sha256")) for c in type(self).__mro__
                 if issubclass(c, Encoder) and not c.__module__.startswith(BUILTIN_PACKAGE)]
        if not files:
            return None
        return hashlib.sha256(json.dumps(files).encode()).hexdigest()

    def weights_sha256(self) -> str:
        """Hash identifying the weights; weight-free encoders hash their configuration."""
        payload = json.dumps({"class": type(self).__qualname__, "args": self.init_args}, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()

    def parameter_count(self) -> int:
        """Number of parameters (0 for weight-free encoders)."""
        return 0

    # -- the card --------------------------------------------------------------------------------
    @classmethod
    def declared_card(cls, **init_args: Any) -> EncoderCard | None:
        """The card this class declares for these constructor arguments, or None. A wrapper with several variants
        (one class behind several registered names) overrides this to pick the variant's card."""
        return cls.CARD

    @classmethod
    def class_card(cls, **init_args: Any) -> EncoderCard:
        """The card read from the class alone (nothing is built or loaded): the declared card, else one made from the
        class attributes with the parameter count unknown; a ValueError names each invalid field."""
        declared = cls.declared_card(**init_args)
        if declared is not None:
            return declared
        return EncoderCard(**{attr: getattr(cls, attr) for attr in CARD_ATTRIBUTES},
                           description=_first_line(cls.__doc__),
                           text_tower=callable(getattr(cls, "encode_text", None)))

    def _use_card(self, card: EncoderCard) -> None:
        """Set this instance's card attributes from a variant's card (for classes with several variants)."""
        for attr, value in _card_attributes(card).items():
            setattr(self, attr, value)

    def card(self) -> EncoderCard:
        """This encoder's card: the declared card with the values this instance runs with (name, family, license,
        training data, rate, width, hop, window). Without a declared card, one made from the instance attributes
        whose parameters are counted (which may load the weights)."""
        values: dict[str, Any] = {attr: getattr(self, attr) for attr in CARD_ATTRIBUTES}
        values.update(sample_rate=int(self.sample_rate), embed_dim=int(self.embed_dim), hop_ms=float(self.hop_ms))
        declared = type(self).declared_card(**self.init_args)
        if declared is not None:
            return replace(declared, **values)
        return EncoderCard(**values, parameters=self.parameter_count(), description=_first_line(type(self).__doc__),
                           text_tower=callable(getattr(self, "encode_text", None)))

    def frame_count(self, num_samples: int) -> int:
        """Number of valid frames produced for a clip of `num_samples` samples (used for masks)."""
        hop = self.sample_rate * self.hop_ms / 1000.0
        return max(1, int(num_samples // hop) + 1)


def _card_attributes(card: EncoderCard) -> dict[str, Any]:
    """The class or instance attributes a card sets (a checkpoint-dependent card leaves its unset values alone)."""
    values = {attr: getattr(card, attr) for attr in CARD_ATTRIBUTES}
    return {attr: value for attr, value in values.items() if value is not None or not card.from_checkpoint}
