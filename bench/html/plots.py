"""The page's plots as self-contained SVG text (no plotting library): per-domain profile (grouped bars), score vs
parameters, heatmap of chance-normalised scores, critical-difference diagram. Every label is escaped."""

from __future__ import annotations

import math
from html import escape

from bench.html.board import Board, fmt

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
FONT = 'font-family="sans-serif"'


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} '
            f'{height}" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
            f'<rect width="100%" height="100%" fill="white"/>' + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "", size: int = 11) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {FONT} font-size="{size}" {extra}>'
            f'{escape(str(text))}</text>')


def colour(index: int) -> str:
    """The colour of the encoder at position `index` of the board."""
    return PALETTE[index % len(PALETTE)]


def _legend(encoders: list[str], x: float, y: float) -> list[str]:
    parts = []
    for i, encoder in enumerate(encoders):
        parts.append(f'<rect x="{x:.1f}" y="{y + 15 * i - 9:.1f}" width="10" height="10" fill="{colour(i)}"/>')
        parts.append(_text(x + 14, y + 15 * i, encoder))
    return parts


def profile_bars(board: Board) -> str:
    """Grouped bars: each encoder's chance-normalised domain mean, one group per domain (0 = chance)."""
    from bench.aggregates import domain_means

    means = domain_means(board.normalised, {t: c.info for t, c in board.tasks.items()})
    domains, encoders = list(means.columns), board.encoders
    left, top, plot_h, group_w = 50, 30, 220, max(60, 14 * len(encoders) + 20)
    width, height = max(560, left + group_w * len(domains) + 190), top + plot_h + 50
    low = min(0.0, float(means.min().min()) if means.notna().any().any() else 0.0)
    high = max(1.0, float(means.max().max()) if means.notna().any().any() else 1.0)

    def y_of(v: float) -> float:
        return top + plot_h * (high - v) / (high - low)

    body = [_text(left, 18, "Per-domain profile: mean chance-normalised score (0 = chance, 1 = perfect)")]
    for tick in [t / 4 for t in range(math.floor(low * 4), math.ceil(high * 4) + 1)]:
        body.append(f'<line x1="{left}" x2="{left + group_w * len(domains)}" y1="{y_of(tick):.1f}" '
                    f'y2="{y_of(tick):.1f}" stroke="{"#333" if tick == 0 else "#ddd"}"/>')
        body.append(_text(left - 4, y_of(tick) + 4, f"{tick:.2f}", "end"))
    bar_w = (group_w - 20) / max(1, len(encoders))
    for d, domain in enumerate(domains):
        x0 = left + group_w * d + 10
        for e, encoder in enumerate(encoders):
            value = means.loc[encoder, domain]
            if value != value:
                continue
            y, y0 = y_of(max(value, 0)), y_of(min(value, 0))
            body.append(f'<rect x="{x0 + e * bar_w:.1f}" y="{y:.1f}" width="{bar_w * 0.9:.1f}" '
                        f'height="{max(0.5, y0 - y):.1f}" fill="{colour(e)}"><title>{escape(encoder)} '
                        f'{escape(domain)}: {fmt(value)}</title></rect>')
        body.append(_text(x0 + (group_w - 20) / 2, top + plot_h + 18, domain, "middle"))
    body += _legend(encoders, left + group_w * len(domains) + 20, top + 10)
    return _svg(width, height, "per-domain profile", body)


def scatter(board: Board) -> str:
    """Overall chance-normalised score against the number of parameters (log scale; weight-free baselines at 0)."""
    from bench.aggregates import normalised_domain_mean

    overall = normalised_domain_mean(board.scores, {t: c.info for t, c in board.tasks.items()})
    points = [(e, (board.cards.get(e) or {}).get("parameters"), overall[e]) for e in board.encoders]
    points = [(e, int(p or 0), v) for e, p, v in points if v == v]
    left, top, plot_w, plot_h = 60, 30, 420, 240
    width, height = left + plot_w + 40, top + plot_h + 50
    body = [_text(left, 18, "Overall chance-normalised score vs parameters")]
    if not points:
        return _svg(width, height, "score vs parameters", body + [_text(left, 60, "no encoder has every task")])
    logs = [math.log10(p) for _, p, _ in points if p > 0] or [0.0]
    x_low, x_high = math.floor(min(logs)) - 1, math.ceil(max(logs))
    y_low, y_high = min(0.0, min(v for *_, v in points)), max(v for *_, v in points) * 1.1 + 0.05

    def xy(p: int, v: float) -> tuple[float, float]:
        x = x_low if p <= 0 else math.log10(p)
        return (left + plot_w * (x - x_low) / max(1e-9, x_high - x_low),
                top + plot_h * (y_high - v) / max(1e-9, y_high - y_low))

    body.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>')
    for power in range(x_low, x_high + 1):
        x, _ = xy(10 ** power if power > x_low else 0, 0)
        body.append(_text(x, top + plot_h + 16, "0 (no weights)" if power == x_low else f"1e{power}", "middle"))
    body.append(_text(left + plot_w / 2, top + plot_h + 34, "parameters (log scale)", "middle"))
    for tick in (y_low, (y_low + y_high) / 2, y_high):
        body.append(_text(left - 4, xy(1, tick)[1] + 4, f"{tick:.2f}", "end"))
    for e, p, v in points:
        x, y = xy(p, v)
        i = board.encoders.index(e)
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour(i)}"><title>{escape(e)}: {fmt(v)}, '
                    f'{p:,} parameters</title></circle>')
        body.append(_text(x + 7, y - 6, e))
    return _svg(width, height, "score vs parameters", body)


def _heat(value: float) -> str:
    """White at chance (0) to dark blue at 1; red below chance."""
    if value != value:
        return "#eeeeee"
    v = max(-1.0, min(1.0, value))
    if v < 0:
        return f"rgb(255,{int(255 * (1 + v))},{int(255 * (1 + v))})"
    return f"rgb({int(255 - 215 * v)},{int(255 - 155 * v)},{int(255 - 75 * v)})"


def heatmap(board: Board) -> str:
    """Encoders x tasks coloured by chance-normalised score, the value written in each cell."""
    tasks, encoders = list(board.tasks), board.encoders
    left, top, cell_w, cell_h = 130, 130, 46, 22
    width, height = left + cell_w * len(tasks) + 20, top + cell_h * len(encoders) + 30
    body = [_text(8, 18, "Chance-normalised scores (0 = chance, 1 = perfect; red: below chance)")]
    for j, task in enumerate(tasks):
        x = left + cell_w * j + cell_w / 2
        body.append(_text(x, top - 6, task.split("/")[-1], "start", f'transform="rotate(-50 {x:.1f} {top - 6})"'))
    for i, encoder in enumerate(encoders):
        y = top + cell_h * i
        body.append(_text(left - 6, y + 15, encoder, "end"))
        for j, task in enumerate(tasks):
            value = board.normalised.loc[encoder, task] if task in board.normalised.columns else math.nan
            x = left + cell_w * j
            body.append(f'<rect x="{x}" y="{y}" width="{cell_w - 1}" height="{cell_h - 1}" fill="{_heat(value)}">'
                        f'<title>{escape(encoder)} on {escape(task)}: {fmt(value)}</title></rect>')
            ink = "white" if value == value and value > 0.6 else "black"
            body.append(_text(x + cell_w / 2, y + 15, fmt(value, 2), "middle", f'fill="{ink}"', 10))
    return _svg(width, height, "heatmap of chance-normalised scores", body)


def cd_diagram(board: Board) -> str:
    """Critical-difference diagram: mean ranks on an axis, the Nemenyi CD as a bar, and thick lines joining
    encoders that the Wilcoxon-Holm tests do not tell apart."""
    from bench.rankstats import cliques

    width = 640
    if board.mean_ranks is None or board.friedman is None:
        return _svg(width, 60, "critical-difference diagram",
                    [_text(10, 30, "critical-difference diagram: needs 3+ encoders and 2+ tasks they all have")])
    ranks = board.mean_ranks.sort_values()
    order, k = list(ranks.index), len(ranks)
    runs = cliques(order, board.pair_tests)
    left, right, axis_y = 150, width - 150, 60
    half = math.ceil(k / 2)
    labels_y = axis_y + 20 + 6 * len(runs)
    height = labels_y + 18 * half + 10

    def x_of(rank: float) -> float:
        return left + (right - left) * (rank - 1) / max(1, k - 1)

    f = board.friedman
    body = [_text(10, 16, f"Mean rank over {f.n} tasks (1 = best). Friedman chi2 = {f.statistic:.2f}, "
                          f"p = {f.p:.3g}; Nemenyi CD (alpha 0.05) = {f.critical_difference:.2f}"),
            f'<line x1="{left}" x2="{right}" y1="{axis_y}" y2="{axis_y}" stroke="black"/>']
    for r in range(1, k + 1):
        body.append(f'<line x1="{x_of(r):.1f}" x2="{x_of(r):.1f}" y1="{axis_y - 5}" y2="{axis_y}" stroke="black"/>')
        body.append(_text(x_of(r), axis_y - 8, str(r), "middle"))
    cd_end = min(right, x_of(1 + f.critical_difference))
    body.append(f'<line x1="{left}" x2="{cd_end:.1f}" y1="28" y2="28" stroke="#c00" stroke-width="2"/>')
    body.append(_text(cd_end + 4, 32, "CD", extra='fill="#c00"'))
    for i, (encoder, rank) in enumerate(ranks.items()):
        on_left = i < half
        y = labels_y + 18 * (i if on_left else k - 1 - i)
        x_end = left - 10 if on_left else right + 10
        body.append(f'<polyline points="{x_of(rank):.1f},{axis_y} {x_of(rank):.1f},{y} {x_end},{y}" fill="none" '
                    f'stroke="#555"/>')
        body.append(_text(x_end + (-4 if on_left else 4), y + 4, f"{encoder} ({rank:.2f})",
                          "end" if on_left else "start"))
    for j, run in enumerate(runs):
        y = axis_y + 10 + 6 * j
        body.append(f'<line x1="{x_of(ranks[run[0]]) - 3:.1f}" x2="{x_of(ranks[run[-1]]) + 3:.1f}" y1="{y}" '
                    f'y2="{y}" stroke="black" stroke-width="4"><title>no significant difference (Wilcoxon-Holm): '
                    f'{escape(", ".join(run))}</title></line>')
    return _svg(width, height, "critical-difference diagram", body)


PLOTS = {"profile": profile_bars, "scatter": scatter, "heatmap": heatmap, "cd": cd_diagram}
