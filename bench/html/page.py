"""`<suite>.html`: one self-contained leaderboard page (inline CSS, JS and SVG; no network; works from file://),
and its plots written beside it as SVG files. Every string from a result or task file is HTML-escaped."""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

from bench.html.board import Board, fmt, load_board
from bench.html.plots import PLOTS, colour

CSS = """
body{font-family:sans-serif;margin:1.5em;color:#222;max-width:100%}
h1{font-size:1.5em} h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:12px} th,td{border:1px solid #ddd;padding:3px 5px;vertical-align:top}
th{background:#f4f4f4;cursor:pointer;user-select:none;white-space:nowrap} th.sorted-asc::after{content:" \\25B2"}
th.sorted-desc::after{content:" \\25BC"} td.num{text-align:right;white-space:nowrap} td.name{white-space:nowrap}
.bar{position:relative;height:6px;background:#eee;margin-top:2px;min-width:70px}
.bar .ci{position:absolute;top:0;height:6px;background:#8ab4e8}
.bar .pt{position:absolute;top:-2px;width:2px;height:10px;background:#1a4f8f}
.bar .chance{position:absolute;top:-3px;width:0;height:12px;border-left:2px dashed #c00}
.ci-text{color:#666;font-size:10px} .stale{color:#b60} .caveat{color:#b60;font-weight:bold}
tr.card td{background:#fafafa;font-size:12px} tr.card{display:none} tr.card.open{display:table-row}
button.enc{white-space:nowrap;border:none;background:none;font-weight:bold;cursor:pointer;padding:0;text-align:left}
.swatch{display:inline-block;width:9px;height:9px;margin-right:4px}
.nc{color:#c00;font-weight:bold} .hidden{display:none} .note{color:#555;font-size:13px;max-width:70em}
.plots svg{margin:0.5em 1em 0.5em 0;border:1px solid #eee}
"""

JS = """
(function(){
  var table=document.getElementById('board');
  function pairs(){var rows=Array.prototype.slice.call(table.tBodies[0].rows),out=[];
    for(var i=0;i<rows.length;i+=2){out.push([rows[i],rows[i+1]]);} return out;}
  function key(row,col){var cell=row.cells[col];var v=cell.getAttribute('data-v');
    if(v===null){return cell.textContent.trim().toLowerCase();} return v===''?NaN:parseFloat(v);}
  var heads=table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads,function(th,col){
    th.addEventListener('click',function(){
      var desc=th.classList.contains('sorted-desc')?false:th.classList.contains('sorted-asc')?true:
        th.getAttribute('data-better')==='high';
      Array.prototype.forEach.call(heads,function(h){h.classList.remove('sorted-asc','sorted-desc');});
      th.classList.add(desc?'sorted-desc':'sorted-asc');
      var list=pairs();
      list.sort(function(a,b){var x=key(a[0],col),y=key(b[0],col);
        var xn=(typeof x==='number'&&isNaN(x)),yn=(typeof y==='number'&&isNaN(y));
        if(xn||yn){return xn&&yn?0:xn?1:-1;} var c=x<y?-1:x>y?1:0; return desc?-c:c;});
      var body=table.tBodies[0]; list.forEach(function(p){body.appendChild(p[0]);body.appendChild(p[1]);});
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll('button.enc'),function(b){
    b.addEventListener('click',function(){var card=b.closest('tr').nextElementSibling;
      card.classList.toggle('open');b.setAttribute('aria-expanded',card.classList.contains('open'));});
  });
  var filter=document.getElementById('domain-filter');
  filter.addEventListener('change',function(){var d=filter.value;
    Array.prototype.forEach.call(table.querySelectorAll('[data-domain]'),function(cell){
      cell.classList.toggle('hidden',d!=='all'&&cell.getAttribute('data-domain')!==d);});
  });
})();
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _num(value: float | None) -> str:
    """A data-v attribute value: the number, or empty for a missing one."""
    return "" if value is None or value != value else repr(float(value))


def _score_cell(board: Board, encoder: str, task: str, span: tuple[float, float]) -> str:
    column = board.tasks[task]
    domain = _e(column.info.domain)
    cell = board.cells.get((encoder, task))
    if cell is None or cell["value"] is None or cell["value"] != cell["value"]:
        return f'<td class="num" data-v="" data-domain="{domain}">-</td>'
    low, high = span

    def pct(v: float) -> float:
        return 100 * (min(max(v, low), high) - low) / (high - low) if high > low else 50.0

    value = float(cell["value"])
    lo, hi = cell["low"], cell["high"]
    has_ci = lo is not None and hi is not None and lo == lo and hi == hi
    bar = f'<span class="pt" style="left:{pct(value):.1f}%"></span>'
    if has_ci:
        bar = f'<span class="ci" style="left:{pct(lo):.1f}%;width:{pct(hi) - pct(lo):.1f}%"></span>' + bar
    chance = column.info.chance
    if chance is not None:
        bar += f'<span class="chance" style="left:{pct(chance):.1f}%" title="chance {fmt(chance)}"></span>'
    stale = ' <span class="stale" title="made with older protocol code or task spec">&#8224;</span>' \
        if cell["stale"] else ""
    ci_text = f'<span class="ci-text">[{fmt(lo)}, {fmt(hi)}]</span>' if has_ci else \
        '<span class="ci-text">[no CI]</span>'
    return (f'<td class="num score" data-v="{_num(value)}" data-domain="{domain}">{fmt(value)}{stale} {ci_text}'
            f'<div class="bar" title="95% CI; dashed line: chance">{bar}</div></td>')


def _spans(board: Board) -> dict[str, tuple[float, float]]:
    spans = {}
    for task, column in board.tasks.items():
        values = [v for e in board.encoders for k in ("low", "high", "value")
                  if (c := board.cells.get((e, task))) and (v := c.get(k)) is not None and v == v]
        if column.info.chance is not None:
            values.append(column.info.chance)
        spans[task] = (min(values), max(values)) if values else (0.0, 1.0)
    return spans


def _header(board: Board, domains: list[str]) -> str:
    from bench.aggregates import AGGREGATES

    cells = ['<th title="click an encoder for its card">encoder</th>',
             '<th data-better="low" title="rank by mean rank; 95% bootstrap interval (tasks and test items '
             'resampled)">rank [95% interval]</th>']
    for name in board.aggregate_names:
        agg = AGGREGATES[name]
        better = "high" if agg.higher_is_better else "low"
        cells.append(f'<th data-better="{better}" title="{_e(agg.label)}: {_e(agg.meaning)}">{_e(agg.short)}</th>')
    for domain in domains:
        cells.append(f'<th data-better="high" data-domain="{_e(domain)}" title="mean chance-normalised score of '
                     f'the domain\'s tasks">{_e(domain)} (norm.)</th>')
    for task, column in board.tasks.items():
        info = column.info
        arrow = "&#8593;" if info.higher_is_better else "&#8595;"
        caveat = f' <span class="caveat" title="{_e("; ".join(column.caveats))}">&#9888;</span>' \
            if column.caveats else ""
        tip = f"{task} ({info.domain}): {column.protocol} {info.metric}; chance {fmt(info.chance)}. " \
              f"{column.description}"
        cells.append(f'<th data-better="{"high" if info.higher_is_better else "low"}" data-domain="{_e(info.domain)}"'
                     f' title="{_e(tip)}">{_e(task.split("/")[-1])}<br>{_e(info.metric)} {arrow}{caveat}</th>')
    return "<thead><tr>" + "".join(cells) + "</tr></thead>"


def _card_row(board: Board, encoder: str, n_columns: int) -> str:
    card = board.cards.get(encoder, {})
    params = card.get("parameters")
    params_text = f"{int(params):,}" if isinstance(params, (int, float)) and params == params else "not stated"
    nc = ' <span class="nc">non-commercial</span>' if card.get("non_commercial") else ""
    sha = card.get("weights_sha256") or "none"
    return (f'<tr class="card"><td colspan="{n_columns}"><b>{_e(encoder)}</b>: {_e(card.get("description", ""))}'
            f'<br>parameters: {_e(params_text)} &middot; licence: {_e(card.get("license", "not stated"))}{nc} &middot; '
            f'family: {_e(card.get("family", ""))}<br>training data: {_e(card.get("training_data", "not stated"))}'
            f'<br>weights sha256: <code>{_e(sha)}</code> &middot; revision: {_e(card.get("revision", ""))}</td></tr>')


def _rows(board: Board, domains: list[str]) -> str:
    from bench.aggregates import domain_means

    means = domain_means(board.normalised, {t: c.info for t, c in board.tasks.items()})
    spans = _spans(board)
    n_columns = 2 + len(board.aggregate_names) + len(domains) + len(board.tasks)
    rows = []
    for i, encoder in enumerate(board.encoders):
        cells = [f'<td class="name"><span class="swatch" style="background:{colour(i)}"></span><button class="enc" '
                 f'aria-expanded="false">{_e(encoder)}</button>'
                 + (' <span class="nc" title="non-commercial licence">NC</span>'
                    if board.cards.get(encoder, {}).get("non_commercial") else "") + "</td>"]
        if board.rank_intervals is not None and encoder in board.rank_intervals.index:
            r = board.rank_intervals.loc[encoder]
            cells.append(f'<td class="num" data-v="{_num(r["rank"])}">{int(r["rank"])} '
                         f'<span class="ci-text">[{int(r["low"])}, {int(r["high"])}]</span></td>')
        else:
            cells.append('<td class="num" data-v="">-</td>')
        digits = {"borda": 1, "mean_rank": 2}
        for name in board.aggregate_names:
            value = board.aggregates.loc[encoder, name]
            cells.append(f'<td class="num" data-v="{_num(value)}">{fmt(value, digits.get(name, 3))}</td>')
        for domain in domains:
            value = means.loc[encoder, domain]
            cells.append(f'<td class="num" data-v="{_num(value)}" data-domain="{_e(domain)}">{fmt(value)}</td>')
        cells += [_score_cell(board, encoder, task, spans[task]) for task in board.tasks]
        rows.append('<tr class="enc">' + "".join(cells) + "</tr>" + _card_row(board, encoder, n_columns))
    return "<tbody>" + "".join(rows) + "</tbody>"


def _rank_section(board: Board) -> str:
    if board.friedman is None:
        return ('<p class="note">Rank statistics need at least 3 encoders and 2 tasks that every encoder has '
                f'({len(board.complete_tasks)} such task(s) here).</p>')
    f = board.friedman
    rows = "".join(f'<tr><td>{_e(t.a)}</td><td>{_e(t.b)}</td><td class="num">{t.p:.3g}</td><td class="num">'
                   f'{t.p_holm:.3g}</td><td>{"yes: " + _e(t.better) + " better" if t.significant else "no"}</td></tr>'
                   for t in board.pair_tests)
    return (f'<p class="note">Over the {f.n} tasks every encoder has: Friedman chi2 = {f.statistic:.2f} '
            f'(k = {f.k}, p = {f.p:.3g}); Nemenyi critical difference of mean ranks at alpha 0.05 = '
            f'{f.critical_difference:.2f}. Pairs: two-sided Wilcoxon signed-rank test over tasks, Holm-corrected '
            f'(alpha 0.05).</p><details><summary>pairwise tests ({len(board.pair_tests)})</summary>'
            f'<table class="pairs"><thead><tr><th>a</th><th>b</th><th>p</th><th>p (Holm)</th><th>significant'
            f'</th></tr></thead><tbody>{rows}</tbody></table></details>')


def render(board: Board, plots: dict[str, str]) -> str:
    """The whole page as one HTML string."""
    from bench.aggregates import AGGREGATES

    domains = sorted({c.info.domain for c in board.tasks.values()})
    options = "".join(f'<option value="{_e(d)}">{_e(d)}</option>' for d in domains)
    aggregates = "".join(f"<li><b>{_e(AGGREGATES[n].label)}</b>: {_e(AGGREGATES[n].meaning)}</li>"
                         for n in board.aggregate_names)
    caveats = "".join(f"<li><b>{_e(t)}</b><ul>" + "".join(f"<li>{_e(c)}</li>" for c in column.caveats)
                      + "</ul></li>" for t, column in board.tasks.items() if column.caveats)
    failed = "".join(f"<li>{_e(f)}</li>" for f in board.failed)
    stale = ("<p class=\"note\">&#8224; marks a result made with older protocol code or task spec than the rest of "
             "its task (kept with --accept-stale).</p>") if board.any_stale else ""
    figures = "".join(f'<figure id="plot-{_e(name)}">{svg}</figure>' for name, svg in plots.items())
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Leaderboard: {_e(board.suite)}'
            f'</title><meta name="viewport" content="width=device-width"><style>{CSS}</style></head><body>'
            f'<h1>Leaderboard: {_e(board.suite)}</h1><p class="note">{_e(board.suite_description)}</p>'
            f'<p class="note">Each cell: the main score of the task\'s primary protocol (mean over seeds), its 95% '
            f'bootstrap CI as text and as a bar (dark tick: the score; dashed red line: chance). Click a column '
            f'header to sort, an encoder for its card.</p>{stale}<ul class="note">{aggregates}</ul>'
            f'<label>domain: <select id="domain-filter"><option value="all">all</option>{options}</select></label>'
            f'<div style="overflow-x:auto"><table id="board">{_header(board, domains)}{_rows(board, domains)}'
            f'</table></div>'
            + (f'<h2>Task caveats</h2><ul class="note">{caveats}</ul>' if caveats else "")
            + (f'<h2>Failed runs</h2><ul class="note">{failed}</ul>' if failed else "")
            + f'<h2>Rank statistics</h2>{_rank_section(board)}<h2>Plots</h2><div class="plots">{figures}</div>'
            f'<script>{JS}</script></body></html>')


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_html(results_dir: Path, out_dir: Path, suite: str, accept_stale: bool = False,
               n_boot: int = 1000) -> list[Path]:
    """Write `<suite>.html` and its plots (`<suite>_<plot>.svg`) into `out_dir`; returns the paths written. The
    results are guarded like write_leaderboard's (MixedResults unless `accept_stale` allows older spec/code)."""
    board = load_board(Path(results_dir), suite, accept_stale, n_boot=n_boot)
    plots = {name: draw(board) for name, draw in PLOTS.items()}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{suite}.html"]
    _write_atomic(paths[0], render(board, plots))
    for name, svg in plots.items():
        paths.append(out_dir / f"{suite}_{name}.svg")
        _write_atomic(paths[-1], svg)
    return paths

