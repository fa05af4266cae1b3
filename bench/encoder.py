"""The encoder contract: what every wrapper in `encoders/` (or a user's file) implements.

An encoder turns a batch of mono waveforms at its declared `sample_rate` into frames at its declared hop.
Loading is lazy: constructing an encoder must be cheap; weights are read in `load()`.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import re
import sys
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar

if TYPE_CHECKING:  # torch is imported inside functions only, so that `import bench` stays light
    import torch

NON_COMMERCIAL = re.compile(r"(\bNC\b|non-?commercial)", re.IGNORECASE)


def is_non_commercial(license_name: str) -> bool:
    """True for licenses that forbid commercial use (CC-BY-NC-*, 'non-commercial' terms)."""
    return bool(NON_COMMERCIAL.search(license_name or ""))


@dataclass
class Frames:
    """Output of `Encoder.encode`.

    frames: float tensor [B, T, D]; mask: bool tensor [B, T] (True = a real frame, False = padding);
    hidden_states: optional list of [B, T, D] tensors, one per layer (input embedding first, last layer last).
    """

    frames: "torch.Tensor"
    mask: "torch.Tensor"
    hidden_states: list["torch.Tensor"] | None = None


@dataclass(frozen=True)
class EncoderCard:
    """Validated metadata of an encoder: what it is, where its weights come from, what it was trained on."""

    name: str
    family: str
    sample_rate: int
    embed_dim: int
    hop_ms: float
    license: str
    parameters: int = 0
    revision: str = ""
    max_seconds: float | None = None
    training_data: str = "unknown"
    extras: tuple[str, ...] = ()
    description: str = ""
    padding_policy: str = "frames beyond each clip's length are masked out"
    text_tower: bool = False

    def __post_init__(self) -> None:
        problems = []
        if not self.name or not isinstance(self.name, str):
            problems.append("name must be a non-empty string")
        if not isinstance(self.sample_rate, int) or self.sample_rate <= 0:
            problems.append(f"sample_rate must be a positive int (got {self.sample_rate!r})")
        if not isinstance(self.embed_dim, int) or self.embed_dim <= 0:
            problems.append(f"embed_dim must be a positive int (got {self.embed_dim!r})")
        if not isinstance(self.hop_ms, (int, float)) or self.hop_ms <= 0:
            problems.append(f"hop_ms must be a positive number of milliseconds (got {self.hop_ms!r})")
        if self.max_seconds is not None and self.max_seconds <= 0:
            problems.append(f"max_seconds must be positive or None (got {self.max_seconds!r})")
        if not self.license:
            problems.append("license must be stated (e.g. 'MIT', 'CC-BY-NC-SA-4.0', 'none (no weights)')")
        if problems:
            raise ValueError(f"invalid EncoderCard for {self.name!r}: " + "; ".join(problems))

    @property
    def non_commercial(self) -> bool:
        """True when the weights' license forbids commercial use."""
        return is_non_commercial(self.license)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = asdict(self)
        out["extras"] = list(self.extras)
        out["non_commercial"] = self.non_commercial
        return out


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
    def wrapper(self: "Encoder", *args: Any, **kwargs: Any) -> None:
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

    Subclasses set the class attributes (or override them in `__init__`), implement `encode`, and may
    override `load` (read weights lazily), `weights_sha256` (hash of the weights actually used) and
    `hidden_state_count`. `init_args` records the constructor arguments so that a result can be reproduced:
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

    _source_sha256: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Record each subclass's source hash at definition time and wrap its `__init__` to capture arguments."""
        super().__init_subclass__(**kwargs)
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
    def load(self, device: str = "cpu", dtype: str = "float32") -> "Encoder":
        """Read weights and move to `device` in `dtype`; idempotent. Subclasses extend `_load`."""
        if not self._loaded or (device, dtype) != (self.device, self.dtype):
            self.device, self.dtype = device, dtype
            self._load()
            self._loaded = True
        return self

    def _load(self) -> None:
        """Read weights; nothing to do for weight-free encoders."""

    # -- the contract ----------------------------------------------------------------------------
    def encode(self, waveforms: "torch.Tensor", mask: "torch.Tensor") -> Frames:
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

    def card(self) -> EncoderCard:
        """Metadata card of this encoder."""
        return EncoderCard(
            name=self.name,
            family=self.family,
            sample_rate=int(self.sample_rate),
            embed_dim=int(self.embed_dim),
            hop_ms=float(self.hop_ms),
            max_seconds=self.max_seconds,
            license=self.license,
            parameters=self.parameter_count(),
            training_data=self.training_data,
            description=(type(self).__doc__ or "").strip().split("\n")[0],
        )

    def frame_count(self, num_samples: int) -> int:
        """Number of valid frames produced for a clip of `num_samples` samples (used for masks)."""
        hop = self.sample_rate * self.hop_ms / 1000.0
        return max(1, int(num_samples // hop) + 1)


def text_tower(encoder: Encoder) -> bool:
    """True when the encoder implements `encode_text(list[str]) -> [N, D]` (CLAP-like)."""
    return callable(getattr(encoder, "encode_text", None))

