"""``optbench``: run sweeps, tune, list what is registered, check gradients, rebuild reports.

Exit codes: 0 ok, 1 a check failed, 2 a usage or config error (one line, no traceback).
Heavy modules (pandas, matplotlib, the runner) are imported inside the commands that need them.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import os
import signal
import sys
import threading
from collections.abc import Sequence

from optbench.bench.errors import USER_ERRORS, UsageError, describe


def _key_value(text: str) -> tuple[str, object]:
    """``--param KEY=VALUE`` with the value in YAML; a mistake is a UsageError (one line, like
    a config's) rather than argparse's usage block."""
    import yaml

    from optbench.bench.sweep.yamlio import load

    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise UsageError(f"--param: expected KEY=VALUE, got {text!r}")
    try:
        return key, load(raw)
    except yaml.YAMLError as e:  # e.g. a key given twice: its problem names the key path
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UsageError(f"--param {key}: value is not valid YAML ({what}): {raw!r}") from None


def _cmd_check(args: argparse.Namespace) -> int:
    import math

    from optbench.bench.check.gradient import check_gradient
    from optbench.bench.plugins import make_problem
    from optbench.errors import ParameterError

    if not (math.isfinite(args.tol) and args.tol > 0):
        raise UsageError(f"check: --tol must be a number > 0 (a relative error), got {args.tol}")
    if args.points < 0:
        raise UsageError(f"check: --points must be >= 0 (random points besides the start), "
                         f"got {args.points}")

    try:
        problem = make_problem(args.problem, dict(_key_value(p) for p in args.param or []))
    except ParameterError as e:  # which --param: e.g. the file or module a value names
        if e.param:
            raise UsageError(f"--param {e.param}: {e}") from None
        raise
    except USER_ERRORS:
        raise
    except (ValueError, TypeError) as e:  # a bad parameter value, named by the problem
        said = str(e)
        raise UsageError(said if said.startswith(f"{args.problem}:") else
                         f"check {args.problem}: {said}") from None
    except Exception as e:  # the problem's constructor failed: its author's bug, one line
        raise UsageError(f"check {args.problem}: building it raised {describe(e)}") \
            from None
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # small products: a second BLAS thread only adds contention
        result = check_gradient(problem, points=args.points, seed=args.seed, tol=args.tol,
                                max_coords=_coords(args.coords), label=args.problem,
                                progress=True)
    print("\n".join(result.lines()))
    return 0 if result.passed else 1


def _coords(text: str) -> float:
    if text == "all":
        return float("inf")
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise UsageError(f"check: --coords must be an integer >= 1 or 'all', got {text!r}")


def _cmd_list(args: argparse.Namespace) -> int:
    from optbench.bench.cli.listing import listing, one

    if args.name is not None and args.config is not None:
        raise UsageError("list: give a NAME or --config FILE, not both")
    print(one(args.name) if args.name is not None else listing(args.config))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from optbench.bench.cli.run import run_command

    return run_command(args)


def _cmd_tune(args: argparse.Namespace) -> int:
    from optbench.bench.cli.tune import tune_command

    return tune_command(args)


def _cmd_report(args: argparse.Namespace) -> int:
    from optbench.bench.report.build import report_command
    from optbench.bench.run.landscape import map_missing

    return report_command(args, prepare=map_missing)  # the contours --no-report left out


def _cmd_export(args: argparse.Namespace) -> int:
    from optbench.bench.cli.export import export_command

    return export_command(args)


def _version() -> str:
    from optbench import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optbench", description="Benchmark optimizers on your loss: check, sweep, report."
    )
    parser.add_argument("--version", action="version", version=f"optbench {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a YAML sweep into a results folder")
    run.add_argument("config", help="YAML sweep file, e.g. configs/quickstart.yaml")
    run.add_argument("--out", help="results folder (default: results/<sweep name>)")
    run.add_argument("--workers", type=int, help="worker processes (default: CPU cores)")
    run.add_argument("--scheduler", help="address of a Dask scheduler to run on instead")
    run.add_argument("--resume", action="store_true", help="skip runs already stored")
    run.add_argument("--force", action="store_true", help="delete stored runs and start over")
    run.add_argument("--quiet", action="store_true", help="no progress bar or table")
    run.add_argument("--no-check", action="store_true", help="skip the gradient check on entry")
    run.add_argument("--no-report", action="store_true", help="do not build the report")
    run.set_defaults(func=_cmd_run, imports=SWEEP_IMPORTS)

    tune = sub.add_parser("tune", help="tune each optimizer with an equal budget (Optuna)")
    tune.add_argument("config", help="YAML tune file, e.g. configs/ackley_tune.yaml")
    tune.add_argument("--out", help="results folder (default: results/<name>)")
    tune.add_argument("--workers", type=int,
                      help="worker processes, as many trials in flight (default: CPU cores)")
    tune.add_argument("--scheduler", help="address of a Dask scheduler to run on instead")
    tune.add_argument("--resume", action="store_true",
                      help="continue the stored studies (trials cut off by a kill included)")
    tune.add_argument("--force", action="store_true", help="delete studies and runs, start over")
    tune.add_argument("--quiet", action="store_true", help="no progress bar or table")
    tune.add_argument("--no-check", action="store_true", help="skip the gradient check on entry")
    tune.add_argument("--no-report", action="store_true", help="do not build the report")
    tune.set_defaults(func=_cmd_tune, imports=SWEEP_IMPORTS)

    ls = sub.add_parser("list", help="problems and optimizers with their parameters")
    ls.add_argument("name", nargs="?", metavar="NAME",
                    help="show one in full: a problem, an optimizer, a family member "
                         "(scipy:BFGS), or a family (nevergrad) to name its members")
    ls.add_argument("--config", metavar="FILE",
                    help="also list the file.py:Class and module:Class plugins this sweep names")
    ls.set_defaults(func=_cmd_list)

    check = sub.add_parser("check", help="check a problem's gradient against differences")
    check.add_argument("problem", help="problem name (see `optbench list`)")
    check.add_argument(
        "--param", action="append", metavar="KEY=VALUE",
        help="problem parameter, value in YAML (repeatable): --param dim=10",
    )
    check.add_argument("--points", type=int, default=3, help="random points besides the start")
    check.add_argument("--seed", type=int, default=0)
    check.add_argument("--tol", type=float, default=1e-6, help="relative error allowed")
    check.add_argument("--coords", default="64", metavar="N|all",
                       help="coordinates differenced per block (default 64; all: every one)")
    check.set_defaults(func=_cmd_check)

    report = sub.add_parser(
        "report", help="rebuild tables, figures and report from stored runs",
        description="One folder: its report is rebuilt in that folder. Several: one report "
                    "comparing them, written to --out (default: beside the first folder, named "
                    "after all of them: results/A+B for results/A results/B).")
    report.add_argument("results", nargs="+", metavar="RESULTS_DIR",
                        help="results folders written by `optbench run` or `optbench tune`")
    report.add_argument("--out", metavar="DIR",
                        help="where the report goes (default: the folder itself for one; "
                             "<first folder's parent>/<A>+<B>... for several); never a results "
                             "folder")
    report.add_argument("--format", default="png", choices=["png", "svg", "pdf"])
    report.set_defaults(func=_cmd_report)

    export = sub.add_parser("export", help="write stored runs in another tool's format")
    export.add_argument("--coco", metavar="DIR", required=True,
                        help="COCO's data format (bbob runs), one folder per configuration, "
                             "for cocopp and IOHanalyzer")
    export.add_argument("results", help="a results folder written by `optbench run`")
    export.set_defaults(func=_cmd_export)
    return parser


# What a sweep imports before its first run (pandas: pyarrow imports it for the first trace)
SWEEP_IMPORTS = ("optbench.bench.cli.run", "optbench.bench.run.sweep",
                 "optbench.bench.run.executors", "pyarrow.parquet", "pandas")
_paused = False  # the cyclic GC paused by main() while the command's modules load


def main(argv: Sequence[str] | None = None) -> int:
    global _paused
    if argv is None and gc.isenabled():  # the program (a test's call keeps its process as is)
        # Loading pandas, pyarrow and pydantic builds a million objects and sets off full
        # collections that find nothing (0.1 s of a short sweep): paused until they are loaded
        gc.disable()
        _paused = True
    code = _main(argv)
    if argv is None and code == 130:  # the program, interrupted: what finished is on disk;
        # leave now, as a second Ctrl-C during the interpreter's shutdown would print a
        # traceback (threads joined) or kill it with the default handler (exit -2)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    return code


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    with _second_interrupt_exits():
        try:
            _loaded(getattr(args, "imports", ()))
            return args.func(args)
        except USER_ERRORS as e:
            print(f"optbench: error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("optbench: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # `optbench list | head`: the reader left, nothing more to say
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except OSError as e:  # the machine's, not ours: a full disk, a read-only folder
            from optbench.bench.results.lock import DISK_ERRORS

            if e.errno not in DISK_ERRORS:
                raise
            where = f" ({e.filename})" if e.filename is not None else ""
            print(f"optbench: error: {e.strerror}{where}", file=sys.stderr)
            return 2


def _loaded(modules: Sequence[str]) -> None:
    """Import the command's modules; then what is loaded is frozen (modules live as long as the
    program: never scanned again) and the cyclic GC runs again for the work."""
    global _paused
    try:
        for name in modules:
            importlib.import_module(name)
    finally:
        if _paused:
            gc.freeze()
            gc.enable()
            _paused = False


@contextlib.contextmanager
def _second_interrupt_exits():
    """Ctrl-C raises KeyboardInterrupt (the sweep stops, keeps what finished and says so);
    a second one while that is done exits at once, without a traceback."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def first(signum, frame):
        signal.signal(signal.SIGINT, again)
        raise KeyboardInterrupt

    def again(signum, frame):
        os.write(2, b"\noptbench: interrupted again: exiting now\n")
        os._exit(130)

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:  # after a first Ctrl-C, a second one on the way out (threads joined, files
        # flushed at exit) still exits at once: `again` stays
        if signal.getsignal(signal.SIGINT) is first:
            signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
