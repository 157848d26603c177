"""Several results folders as one report: ``optbench report A B`` and ``optbench.load(A, B)``.

Each folder is read as ``data.load_results`` reads one (its damaged runs named on stderr, left
out and listed), then their runs are put side by side:

- each folder is named by its folder name (by its path as given where two share a name): the
  ``source`` column of the runs and the ``sweep`` column of the tables;
- a configuration label that two folders both hold on one problem would merge their runs into
  one row: it is prefixed with its folder's name (``A: adam(lr=0.1)``) on every problem, so a
  configuration keeps one label in every table and figure. Labels that do not clash stay as
  they are: the same method at d = 2 (from A) and at d = 10 (from B) is one configuration,
  one line in the figures over all problems and in the plot of ERT against dimension;
- a run id that two folders hold (the same spec run in both) is prefixed the same way.

The report is written to its own folder (``default_out``: beside the first folder, named after
all of them), never into a results folder, under that folder's writer lock. Like the rest of the
report this reads the folders' stored files only and imports nothing they name.
"""

from __future__ import annotations

import json
from pathlib import Path

from optbench.bench.errors import UsageError
from optbench.bench.report.data import Results, check_results_folder, load_results, natural_order

SOURCES = "sources.json"  # in the report's folder: the folders it was built from
MAX_NAME = 100  # characters of a default folder name made of the folders' names


def default_out(roots: list[Path]) -> Path:
    """``<parent of the first>/<A>+<B>``: beside the folders, named after them."""
    name = "+".join(_name(r) for r in roots)
    if len(name) > MAX_NAME:
        name = f"{_name(roots[0])}+{len(roots) - 1}-more"
    first = roots[0] if roots[0].name else roots[0].resolve()  # "." has no name
    return first.parent / name


def _name(root: Path) -> str:
    return root.name or root.resolve().name or str(root)


def check_folders(roots) -> list[Path]:
    """The folders as Paths, each a results folder, none given twice; else one line."""
    roots = [Path(r) for r in roots]
    if not roots:
        raise UsageError("report: give one or more results folders")
    seen: dict[Path, Path] = {}
    for root in roots:
        check_results_folder(root)
        same = seen.setdefault(root.resolve(), root)
        if same is not root:
            raise UsageError(f"report: {root} is given twice (as {same} too); give each results "
                             "folder once")
    return roots


def check_out(out: Path, roots: list[Path]) -> None:
    """A combined report goes to its own folder: not into a results folder, whose own report
    ``optbench run`` and ``optbench report`` write there."""
    if (out / "runs").is_dir():
        which = "one of the folders compared" if out.resolve() in {r.resolve() for r in roots} \
            else "a results folder"
        raise UsageError(f"report: --out {out} is {which} (it has runs/); a report of several "
                         "folders goes to a folder of its own, e.g. --out results/compare")
    if out.exists() and not out.is_dir():
        raise UsageError(f"report: --out {out} exists and is not a folder")


def names(roots: list[Path]) -> list[str]:
    """Each folder's name in the report: its folder name, or its path where names clash."""
    plain = [_name(r) for r in roots]
    return [str(r) if plain.count(n) > 1 else n for r, n in zip(roots, plain, strict=True)]


def load_several(roots, out: str | Path | None = None, quiet: bool = False) -> Results:
    """The runs of several results folders as one ``Results`` rooted at ``out`` (where its
    report is written; default ``default_out``), labelled as the module's doc says."""
    import pandas as pd

    roots = check_folders(roots)
    out = Path(out) if out is not None else default_out(roots)
    loaded = [load_results(root, quiet=quiet) for root in roots]
    tags = names(roots)
    runs = pd.concat([r.runs.assign(source=tag) for r, tag in zip(loaded, tags, strict=True)],
                     ignore_index=True)
    clashing = _clashing_labels(runs)
    runs["optimizer_label"] = [f"{src}: {label}" if label in clashing else label for src, label
                               in zip(runs["source"], runs["optimizer_label"], strict=True)]
    folder_of = dict(zip(tags, roots, strict=True))
    twice = set(runs["run_id"][runs["run_id"].duplicated()])
    ids = [f"{src}/{rid}" if rid in twice else rid
           for src, rid in zip(runs["source"], runs["run_id"], strict=True)]
    stored, hits = {}, {}
    for new, src, rid in zip(ids, runs["source"], runs["run_id"], strict=True):
        stored[new] = (folder_of[src], rid)
        hits[new] = loaded[tags.index(src)].hits.get(rid, [])
    runs["run_id"] = ids
    several = len(roots) > 1
    notes = _notes(clashing, tags) + _environment_notes(loaded, tags) + [
        f"config.yaml is missing from {root}" for root, r in zip(roots, loaded, strict=True)
        if several and not r.config_text]
    return Results(
        root=out, runs=natural_order(runs), hits=hits,
        config_text="\n---\n".join(f"# {tag}: {root / 'config.yaml'}\n{r.config_text}"
                                   for tag, root, r in zip(tags, roots, loaded, strict=True)
                                   if r.config_text),
        environment=loaded[0].environment,
        left_out=[{**item, "problem": f"{item['problem']} ({tag})" if several else
                   item["problem"]} for tag, r in zip(tags, loaded, strict=True)
                  for item in r.left_out],
        damaged={f"{tag}/{rid}": why for tag, r in zip(tags, loaded, strict=True)
                 for rid, why in r.damaged.items()},
        writer="; ".join(f"{tag}: {r.writer}" for tag, r in zip(tags, loaded, strict=True)
                         if r.writer) or None,
        sources=folder_of, stored=stored, notes=notes,
        title=" + ".join(tags) if several else "",
    )


def _clashing_labels(runs) -> set[str]:
    """Configuration labels that two folders both hold on one problem."""
    owners = runs.groupby(["problem_label", "optimizer_label"], sort=False)["source"].nunique()
    return {label for (_, label), n in owners.items() if n > 1}


def _notes(clashing: set[str], tags: list[str]) -> list[str]:
    if not clashing:
        return []
    shown = ", ".join(sorted(clashing))
    return [f"configurations that more than one of the folders ({', '.join(tags)}) ran on the "
            f"same problem are labelled with their folder's name first, so their runs are not "
            f"merged: {shown}"]


ENVIRONMENT_KEYS = ("python", "platform", "processor", "cpu_count", "packages")


def _environment_notes(loaded: list[Results], tags: list[str]) -> list[str]:
    """Say where the folders ran differently: wall times compare only as far as that allows."""
    first = loaded[0].environment or {}
    notes = []
    for tag, res in zip(tags[1:], loaded[1:], strict=True):
        env = res.environment or {}
        differ = [k for k in ENVIRONMENT_KEYS if env.get(k) != first.get(k)]
        if differ:
            notes.append(f"{tag} ran in another environment than {tags[0]} ({', '.join(differ)} "
                         f"differ): its wall times compare with {tags[0]}'s only as far as that "
                         f"allows; the Environment section shows {tags[0]}'s")
    return notes


def write_sources(results: Results) -> Path:
    """sources.json: each folder's name in the report, its path and its runs shown."""
    from optbench.bench.results.files import atomic_write

    counts = results.runs["source"].value_counts()
    doc = {tag: {"folder": str(root), "resolved": str(root.resolve()),
                 "runs": int(counts.get(tag, 0))} for tag, root in results.sources.items()}
    return atomic_write(results.root / SOURCES, json.dumps(doc, indent=1))
