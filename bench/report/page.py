"""report.md and report.html from one list of blocks, so the two pages say the same things.

The HTML is static and self-contained apart from the figure files, which it links relatively:
it opens from the file system with no server and survives moving the results folder.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from optbench.bench.report.data import Results
from optbench.bench.report.figures import FigureFile
from optbench.bench.report.tables import (
    FINITE_DIFFERENCE,
    NON_SMOOTH,
    RANK_TEXT,
    display_header,
    display_rows,
    fd_text,
    non_smooth,
)
from optbench.bench.results.status import FAILED


@dataclass
class Report:
    results: Results
    table: Any  # tables.config_table
    table_files: list[Path]
    figures: list[FigureFile]
    notes: list[str] = field(default_factory=list)


# Blocks: ("h", level, text) ("p", text) ("list", [text]) ("table", problem) ("figure", FigureFile)
#         ("code", language, text) ("links", [(text, relative path)])
#         ("verdict", [(problem, sentence, [details])])
def blocks(report: Report) -> list[tuple]:
    from optbench.bench.report.verdict import INTRO, verdict

    res, runs = report.results, report.results.runs
    title = res.title or runs["sweep"].iloc[0] or res.root.name
    out: list[tuple] = [("h", 1, f"optbench report: {title}")]
    out.append(("p", _overview(report)))
    out += _incomplete(res)
    out += [("h", 2, "Verdict"), ("p", INTRO), ("verdict", verdict(res, report.table))]
    if report.notes:
        out += [("h", 2, "Left out, and why"), ("list", report.notes)]
    out += [("h", 2, "Results per problem"),
            ("p", f"One row per optimizer configuration; the best entry per problem is marked ★ "
                  f"(ranked by {RANK_TEXT}); the same entries are bold in the figures. "
                  "Evaluations to target: median and IQR (25th–75th percentile) over the runs "
                  "that reached the target. Final f − f*: each run against its own f*."),
            ("links", [(p.name, _rel(p, res.root)) for p in report.table_files])]
    for problem in res.problems():
        out += [("h", 3, problem), ("p", _problem_line(runs[runs["problem_label"] == problem]))]
        if non_smooth(report.table, problem):
            out.append(("p", NON_SMOOTH))
        out.append(("table", problem))
        out += [("figure", f) for f in report.figures if f.problem == problem]
    overall = [f for f in report.figures if f.problem is None]
    if overall:
        out += [("h", 2, "All problems"), *[("figure", f) for f in overall]]
    out += _failed(runs)
    out += _damaged(res)
    out += [("h", 2, "Configuration"), ("code", "yaml", res.config_text or "(missing)")]
    out += [("h", 2, "Environment"), ("list", _environment_lines(res.environment)),
            ("code", "json", json.dumps(res.environment, indent=1) if res.environment
             else "(missing)")]
    return out


def _overview(report: Report) -> str:
    runs = report.results.runs
    statuses = ", ".join(f"{s} {n}" for s, n in runs["status"].value_counts().items())
    return (f"{len(runs)} runs: {runs['optimizer_label'].nunique()} optimizer configurations "
            f"on {runs['problem_label'].nunique()} problem(s), {runs['seed'].nunique()} seed(s). "
            f"Statuses: {statuses}. Built {datetime.now():%Y-%m-%d %H:%M} from "
            f"{report.results.origin}.")


def _problem_line(rows) -> str:
    f_opt = rows["f_opt"].dropna()
    known = f"known minimum f* = {f_opt.iloc[0]:.6g}" if len(f_opt) else "no known minimum f*"
    if f_opt.nunique() > 1:
        known = (f"known minimum f* per run, from {f_opt.min():.6g} to {f_opt.max():.6g} over "
                 f"{f_opt.nunique()} instances (each run is judged against its own)")
    on = {"value": "f − f*" if len(f_opt) else "f", "distance": "‖x − x*‖",
          "grad_norm": "‖∇f(x)‖"}
    targets = sorted({" and ".join(f"{on.get(k, k)} ≤ {v:g}" for k, v in json.loads(t).items())
                      for t in rows["targets"]} - {""})
    target = f"target: {'; '.join(targets)}" if targets else "no target"
    dim = int(rows["dim"].max())
    kinks = "; non-smooth (see below)" if "smooth" in rows and \
        rows["smooth"].map(lambda v: v is not None and not v).any() else ""
    gradient = rows["gradient"].dropna() if "gradient" in rows else ()
    fd = f"; {fd_text(dim)}" if len(gradient) and gradient.iloc[0] == FINITE_DIFFERENCE else ""
    return (f"Dimension {dim if dim > 0 else 'not recorded'}; {known}; {target}{kinks}{fd}; "
            f"{len(rows)} runs of {rows['optimizer_label'].nunique()} configurations.")


def _failed(runs) -> list[tuple]:
    failed = runs[runs["status"].isin(FAILED)]
    if failed.empty:
        return [("h", 2, "Failed runs"), ("p", f"None: no run ended {', '.join(FAILED)}.")]
    lines = [f"{r.status}: {r.problem_label} · {r.optimizer_label} · seed {r.seed} · run "
             f"{r.run_id}: {r.message or '(no message)'}" for r in failed.itertuples()]
    return [("h", 2, f"Failed runs ({len(failed)})"), ("list", lines)]


def _incomplete(res: Results) -> list[tuple]:
    """What the page cannot show, said first: a sweep still writing, damaged runs."""
    out = []
    if res.writer:
        from optbench.bench.results.store import Store

        planned = Store(res.root).selected_ids()
        of = f" of the sweep's {len(planned)}" if planned else ""
        out.append(("p", f"In progress: a sweep ({res.writer}) was writing this folder when "
                         f"this report was built, so it shows the {len(res.runs)} runs{of} "
                         "finished by then. Build it again when the sweep ends (\"optbench "
                         f"report {res.root}\")."))
    if res.damaged:
        n = len(res.damaged)
        out.append(("p", f"{n} stored run{'s are' if n > 1 else ' is'} damaged and left out of "
                         "every table and figure: see Damaged runs."))
    return out


DAMAGED_SHOWN = 200  # runs listed by id on the page; the rest are counted


def _damaged(res: Results) -> list[tuple]:
    if not res.damaged:
        return []
    n = len(res.damaged)
    lines = [f"{rid}: {why}" for rid, why in sorted(res.damaged.items())[:DAMAGED_SHOWN]]
    if n > DAMAGED_SHOWN:
        lines.append(f"and {n - DAMAGED_SHOWN} more")
    return [("h", 2, f"Damaged runs ({n})"),
            ("p", "These stored runs do not read back as written (a run counts only when its "
                  "summary and its trace both read and agree), so they are left out of the "
                  f"tables and figures. \"optbench run CONFIG --out {res.root} --resume\" "
                  "moves them to quarantine/ (its why.json lists them all) and runs them "
                  "again."),
            ("list", lines)]


def _environment_lines(env: dict | None) -> list[str]:
    if not env:
        return ["environment.json is missing"]
    packages = ", ".join(f"{k} {v}" for k, v in (env.get("packages") or {}).items())
    blas = "; ".join(f"{t.get('internal_api')} {t.get('version')} ({t.get('num_threads')} "
                     "threads)" for t in env.get("threadpools") or [])
    return [f"Python {env.get('python')} on {env.get('platform')}",
            f"CPU: {env.get('processor')}, {env.get('cpu_count')} cores",
            f"BLAS: {blas or 'not found'}; runs used {env.get('runs_use_blas_threads')} "
            "BLAS thread(s)",
            f"Packages: {packages}"]


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


# -- Markdown ------------------------------------------------------------------------------------
def markdown(report: Report) -> str:
    from optbench.bench.report.tables import markdown_table

    root, parts = report.results.root, []
    for block in blocks(report):
        kind = block[0]
        if kind == "h":
            parts.append(f"{'#' * block[1]} {block[2]}")
        elif kind == "p":
            parts.append(block[1])
        elif kind == "list":
            parts.append("\n".join(f"- {item}" for item in block[1]))
        elif kind == "links":
            parts.append(" · ".join(f"[{t}]({h})" for t, h in block[1]))
        elif kind == "table":
            parts.append(markdown_table(report.table, block[1]))
        elif kind == "figure":
            f, href = block[1], _rel(block[1].path, root)
            image = f"[{f.title} ({f.path.suffix[1:]})]({href})" if href.endswith(".pdf") \
                else f"![{f.title}]({href})"
            parts.append(f"**{f.title}.** {f.caption}\n\n{image}")
        elif kind == "code":
            parts.append(f"```{block[1]}\n{block[2].rstrip()}\n```")
        elif kind == "verdict":
            parts.append("\n".join(
                f"- **{problem}**: {sentence}" + "".join(f"\n  - {d}" for d in details)
                for problem, sentence, details in block[1]))
    return "\n\n".join(parts) + "\n"


# -- HTML ------------------------------------------------------------------------------------------
CSS = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1200px; margin: 2em auto;
       padding: 0 1em; color: #222; }
h1, h2, h3 { line-height: 1.2; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th:first-child, td:first-child, td:last-child { text-align: left; }
tr.best { background: #e8f1fa; font-weight: 600; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 13px; color: #444; max-width: 900px; }
pre { background: #f6f6f6; padding: .8em; overflow-x: auto; font-size: 12px; }
li { margin: .2em 0; }
"""


def _html_verdict(items) -> str:
    lis = []
    for problem, sentence, details in items:
        sub = "".join(f"<li>{html.escape(d)}</li>" for d in details)
        lis.append(f"<li><b>{html.escape(problem)}</b>: {html.escape(sentence)}"
                   + (f"<ul>{sub}</ul>" if sub else "") + "</li>")
    return f'<ul class="verdict">{"".join(lis)}</ul>'


def _html_table(report: Report, problem: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in display_header(report.table, problem))
    body = []
    for best, cells in display_rows(report.table, problem):
        tds = "".join(f"<td>{html.escape(c)}</td>" for c in cells)
        body.append(f'<tr class="best">{tds}</tr>' if best else f"<tr>{tds}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _html_figure(f: FigureFile, href: str) -> str:
    src = html.escape(href, quote=True)
    alt = html.escape(f"{f.title}: {f.problem or 'all problems'}", quote=True)
    if href.endswith(".pdf"):  # browsers show a PDF in <object>, not in <img>
        media = (f'<object data="{src}" type="application/pdf" width="100%" height="600">'
                 f'<a href="{src}">{alt}</a></object>')
    else:
        media = f'<a href="{src}"><img src="{src}" alt="{alt}" loading="lazy"></a>'
    return (f"<figure>{media}<figcaption><b>{html.escape(f.title)}.</b> "
            f"{html.escape(f.caption)}</figcaption></figure>")


def render_html(report: Report) -> str:
    root, parts, title = report.results.root, [], "optbench report"
    for block in blocks(report):
        kind = block[0]
        if kind == "h":
            title = block[2] if block[1] == 1 else title
            parts.append(f"<h{block[1]}>{html.escape(block[2])}</h{block[1]}>")
        elif kind == "p":
            parts.append(f"<p>{html.escape(block[1])}</p>")
        elif kind == "list":
            items = "".join(f"<li>{html.escape(item)}</li>" for item in block[1])
            parts.append(f"<ul>{items}</ul>")
        elif kind == "links":
            links = " · ".join(f'<a href="{html.escape(h, quote=True)}">{html.escape(t)}</a>'
                               for t, h in block[1])
            parts.append(f"<p>Download: {links}</p>")
        elif kind == "table":
            parts.append(_html_table(report, block[1]))
        elif kind == "figure":
            parts.append(_html_figure(block[1], _rel(block[1].path, root)))
        elif kind == "code":
            parts.append(f"<pre><code>{html.escape(block[2])}</code></pre>")
        elif kind == "verdict":
            parts.append(_html_verdict(block[1]))
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            + "\n".join(parts) + "\n</body>\n</html>\n")


def write_pages(report: Report) -> Path:
    """report.md and report.html in the results folder; returns the HTML's path."""
    from optbench.bench.results.files import atomic_write

    root = report.results.root
    atomic_write(root / "report.md", markdown(report))
    return atomic_write(root / "report.html", render_html(report))
