"""Encoder cards: static, validated metadata of an encoder (what it is, where its weights come from, what it was
trained on), readable without building the encoder or loading its weights, and their plain-text renderings for
`bench list encoders`."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

NON_COMMERCIAL = re.compile(r"(\bNC\b|non-?commercial)", re.IGNORECASE)
FROM_CHECKPOINT = "ckpt"  # how the table shows a value that the checkpoint sets


def is_non_commercial(license_name: str) -> bool:
    """True for licenses that forbid commercial use (CC-BY-NC-*, 'non-commercial' terms)."""
    return bool(NON_COMMERCIAL.search(license_name or ""))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True, kw_only=True)
class EncoderCard:
    """Validated metadata of an encoder.

    `revision` names where the weights come from (the pip package and version, or the checkpoint); `packages` are
    the pip requirements the encoder needs beyond bench's own dependencies; `parameters` is None only when unknown
    until the weights load. With `from_checkpoint` (the hf-* families) the rate, width, hop, window and size are
    read from the checkpoint the user passes, so a family's card may leave them None.
    """

    name: str
    family: str
    license: str
    sample_rate: int | None
    embed_dim: int | None
    hop_ms: float | None
    max_seconds: float | None = None
    parameters: int | None = None
    revision: str = ""
    training_data: str = "unknown"
    packages: tuple[str, ...] = ()
    description: str = ""
    padding_policy: str = "frames beyond each clip's length are masked out"
    text_tower: bool = False
    from_checkpoint: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.packages, list):
            object.__setattr__(self, "packages", tuple(self.packages))
        problems = [problem for problem in self._problems() if problem]
        if problems:
            raise ValueError(f"invalid card of encoder {self.name!r}: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        """One message per invalid field, each starting with the field's name."""
        unset_ok = self.from_checkpoint
        unset = " (only a card with from_checkpoint=True may leave it None)"

        def positive(field: str, value: Any, integer: bool) -> str:
            if value is None:
                return "" if unset_ok else f"{field} must be set{unset}"
            if not (isinstance(value, int) if integer else _is_number(value)) or isinstance(value, bool) or value <= 0:
                kind = "int" if integer else "number"
                return f"{field} must be a positive {kind} (got {value!r})"
            return ""

        texts = ("name", "family", "license")
        problems = [f"{field} must be a non-empty string (got {getattr(self, field)!r})" for field in texts
                    if not isinstance(getattr(self, field), str) or not getattr(self, field).strip()]
        problems += [positive("sample_rate", self.sample_rate, True), positive("embed_dim", self.embed_dim, True),
                     positive("hop_ms", self.hop_ms, False)]
        if self.max_seconds is not None and (not _is_number(self.max_seconds) or self.max_seconds <= 0):
            problems.append(f"max_seconds must be a positive number or None (got {self.max_seconds!r})")
        if self.parameters is not None and (not isinstance(self.parameters, int) or isinstance(self.parameters, bool)
                                            or self.parameters < 0):
            problems.append(f"parameters must be an int >= 0 or None (got {self.parameters!r})")
        problems += [f"{field} must be a string (got {getattr(self, field)!r})"
                     for field in ("revision", "training_data", "description", "padding_policy")
                     if not isinstance(getattr(self, field), str)]
        if not isinstance(self.packages, tuple) or not all(isinstance(p, str) and p.strip() for p in self.packages):
            problems.append(f"packages must be a tuple of pip requirement strings (got {self.packages!r})")
        return problems

    @property
    def non_commercial(self) -> bool:
        """True when the weights' license forbids commercial use."""
        return is_non_commercial(self.license)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = asdict(self)
        out["packages"] = list(self.packages)
        out["non_commercial"] = self.non_commercial
        return out


def _unset(card: EncoderCard) -> str:
    return FROM_CHECKPOINT if card.from_checkpoint else "?"


def _parameters(card: EncoderCard) -> str:
    if card.parameters is None:
        return _unset(card)
    return "0" if card.parameters == 0 else f"{card.parameters / 1e6:.1f}M"


def _license(card: EncoderCard) -> str:
    return card.license + (" [non-commercial]" if card.non_commercial else "")


def card_row(card: EncoderCard) -> list[str]:
    """The table cells of one card: name, family, params, rate, hop, dim, license, revision."""
    unset = _unset(card)
    rate = unset if card.sample_rate is None else f"{card.sample_rate / 1000:g} kHz"
    hop = unset if card.hop_ms is None else f"{card.hop_ms:.0f} ms"
    dim = unset if card.embed_dim is None else str(card.embed_dim)
    return [card.name, card.family, _parameters(card), rate, hop, dim, _license(card), card.revision or "-"]


def card_table(cards: dict[str, EncoderCard | str]) -> str:
    """A compact table of cards by name; a string instead of a card is shown as that name's problem."""
    header = ["name", "family", "params", "rate", "hop", "dim", "license", "revision"]
    rows = [card_row(card) if isinstance(card, EncoderCard) else [name, f"(no card: {card})"]
            for name, card in cards.items()]
    widths = [max(len(row[i]) for row in [header, *rows] if len(row) > i) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(widths[i]) if i < len(widths) and len(row) > 1 else cell
                       for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]
    if any(isinstance(card, EncoderCard) and card.from_checkpoint for card in cards.values()):
        lines.append(f"{FROM_CHECKPOINT}: read from the checkpoint given with --checkpoint (the revision shown is "
                     f"the family's default checkpoint)")
    return "\n".join(lines)


def card_details(card: EncoderCard) -> str:
    """Every field of one card, one `field: value` line each."""
    values = card.to_dict()
    width = max(len(name) for name in values)
    lines = []
    for name in [f.name for f in fields(card)] + ["non_commercial"]:
        value = values[name]
        if value is None:
            value = "set by the checkpoint" if card.from_checkpoint else "none"
        elif isinstance(value, list):
            value = ", ".join(value) or "none beyond bench's own dependencies"
        elif name == "parameters":
            value = f"{value:,}"
        lines.append(f"{name.ljust(width)}  {value}")
    return "\n".join(lines)
