"""Families by prefix in the registry, YAML and the CLI (issue 15): names, options, missing
libraries, ``optbench list``, and the statuses a library's exits map to."""

import inspect
import re
import subprocess
import sys
import textwrap

import nevergrad as ng
import numpy as np
import optax
import pytest
from scipy.optimize import show_options

import optbench
from optbench import optimizers
from optbench.bench.cli.main import main
from optbench.optimizers import new_registry
from optbench.registry import RegistryError

SCIPY = ["BFGS", "CG", "COBYLA", "COBYQA", "L-BFGS-B", "Newton-CG", "Powell", "SLSQP", "TNC",
         "trust-constr"]


def config(tmp_path, optimizer: str) -> str:
    path = tmp_path / "f.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: f
        problems:
          - rosenbrock: {{dim: 2, x0: [-1.2, 1]}}
        optimizers:
          - {optimizer}
        budget: {{evaluations: 50}}
    """))
    return str(path)


def cli(*args, hide: tuple[str, ...] = ()):
    """optbench in a child process where the modules ``hide`` names fail to import."""
    code = ("import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in hide)
            + "from optbench.bench.cli.main import main\nraise SystemExit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("module, optimizer, extra", [
    ("cma", "cma: {}", "cma"),
    ("nevergrad", "nevergrad:NGOpt: {}", "nevergrad"),
    ("optax", "optax:adamw: {learning_rate: 0.1}", "jax"),
    ("jax", "optax:adamw: {learning_rate: 0.1}", "jax"),
])
def test_a_missing_library_is_one_line_naming_the_extra(tmp_path, module, optimizer, extra):
    done = cli("run", config(tmp_path, optimizer), "--quiet", "--no-report", hide=(module,))
    assert done.returncode == 2
    family = optimizer.split(":")[0].split(" ")[0]
    assert done.stderr.strip().splitlines() == [
        f"optbench: error: {tmp_path / 'f.yaml'}: optimizers[0]: optimizer family {family!r} "
        f"needs the {module} package: pip install 'optbench[{extra}]'"]


def test_list_shows_a_family_without_its_library_as_unavailable():
    listed = cli("list", hide=("cma", "nevergrad", "jax"))
    assert listed.returncode == 0, listed.stderr
    for family, shown, module, extra in (("cma", "cma", "cma", "cma"),
                                         ("nevergrad", "nevergrad:<optimizer>", "nevergrad",
                                          "nevergrad"),
                                         ("optax", "optax:<optimizer>", "jax", "jax")):
        assert (f"  {shown}  [built-in]  unavailable: optimizer family {family!r} needs the "
                f"{module} package: pip install 'optbench[{extra}]'") in listed.stdout
    assert "  scipy:<method>  [built-in]  10 methods:" in listed.stdout


@pytest.mark.parametrize("optimizer, line", [
    ("scipy:BFG: {}", "optimizers[0]: unknown scipy method 'BFG' in 'scipy:BFG' (did you mean "
                      "scipy:BFGS, scipy:L-BFGS-B?); valid: " + ", ".join(
                          f"scipy:{m}" for m in SCIPY)),
    ("scipy:bfgs: {}", "unknown scipy method 'bfgs' in 'scipy:bfgs' (did you mean scipy:BFGS?)"),
    ("nevergrad:NGopt: {}", "unknown nevergrad optimizer 'NGopt' in 'nevergrad:NGopt' (did you "
                            "mean nevergrad:NGOpt"),
    ("optax:adamx: {learning_rate: 0.1}", "unknown optax optimizer 'adamx' in 'optax:adamx' "
                                          "(did you mean optax:adamax"),
    ("cma:x: {}", "unknown optimizer 'cma:x': the cma family is spelled 'cma' alone"),
    ("scipy:BFGS: {gtl: 1.0e-6}", "optimizers[0].scipy:BFGS.gtl: unknown parameter (did you "
                                  "mean gtol?); valid: gtol, norm, maxiter, xrtol"),
    ("cma: {popsiz: 8}", "optimizers[0].cma.popsiz: unknown parameter (did you mean popsize?)"),
    ("optax:adamw: {learning_rate: 0.1, b3: 1}", "optimizers[0].optax:adamw.b3: unknown "
                                                 "parameter"),
    ("nevergrad:CMA: {sigma: 0}", "optimizers[0].nevergrad:CMA.sigma: nevergrad:CMA: parameter "
                                  "'sigma' must be a number > 0, got 0"),
])
def test_an_unknown_method_or_option_is_one_line(tmp_path, capsys, optimizer, line):
    assert main(["run", config(tmp_path, optimizer), "--quiet", "--no-report"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and line in err[0], err


def test_names_outside_the_families_suggest_their_members():
    with pytest.raises(RegistryError, match=r"unknown optimizer 'adamw' \(did you mean adam, "
                                            r"adagrad, optax:adamw\?\).*families: "
                                            r"scipy:<method>, cma, nevergrad:<optimizer>, "
                                            r"optax:<optimizer>"):
        optimizers.make("adamw")


def test_list_shows_each_family_and_how_many_members(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    optax_count = len([n for n in dir(optax) if inspect.isfunction(getattr(optax, n))
                       and getattr(optax, n).__module__ == "optax._src.alias"]) - 1  # lbfgs
    for line in (f"  scipy:<method>  [built-in]  {len(SCIPY)} methods:",
                 "  cma  [built-in]  1 member:",
                 f"  nevergrad:<optimizer>  [built-in]  {len(ng.optimizers.registry)} optimizers:",
                 f"  optax:<optimizer>  [built-in]  {optax_count} optimizers:"):
        assert line in out
    assert "scipy:BFGS" not in out  # members are listed one by one on request only


def test_list_one_member_shows_scipys_options_defaults_and_reference(capsys):
    assert main(["list", "scipy:BFGS"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("scipy:BFGS  (optimizer) [built-in family 'scipy']  Minimization "
                             "of scalar function of one or more variables using the BFGS")
    shown = {line.split(" = ")[0].strip(): line.split(" = ")[1] for line in out[1:]
             if " = " in line}
    assert list(shown) == ["gtol", "norm", "maxiter", "xrtol", "c1", "c2", "hess_inv0"]
    assert shown["gtol"].startswith("1e-05  ") and shown["c2"].startswith("0.9  ")
    doc = " ".join(show_options("minimize", "BFGS", disp=False).split())
    assert shown["c1"].partition("  ")[2] in doc  # scipy's own words
    assert out[-1] == ("  reference: J. Nocedal and S. J. Wright, Numerical Optimization, "
                       "2nd ed., Springer 2006, p. 136")


@pytest.mark.parametrize("name", [f"scipy:{m}" for m in SCIPY]
                         + ["cma", "nevergrad:NGOpt", "optax:lion", "optax:sgd"])
def test_every_member_lists_its_parameters_and_a_reference(capsys, name):
    assert main(["list", name]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{name}  (optimizer) [built-in family ")
    assert out[-1].startswith("  reference: ") and len(out[-1]) > 30
    assert sum(" = " in line for line in out) >= 1


def test_list_a_family_names_its_members(capsys):
    assert main(["list", "nevergrad"]) == 0
    out = capsys.readouterr().out
    assert f"{len(ng.optimizers.registry)} optimizers:" in out
    assert "nevergrad:NGOpt," in out and "nevergrad:TwoPointsDE" in out


@pytest.mark.parametrize("name, words", [
    ("scipy:Nelder", "unknown scipy method 'Nelder' in 'scipy:Nelder'; valid: scipy:BFGS, "
                     "scipy:CG, scipy:COBYLA, scipy:COBYQA, scipy:L-BFGS-B, scipy:Newton-CG, "
                     "scipy:Powell, scipy:SLSQP, scipy:TNC, scipy:trust-constr; optbench's own: "
                     "nelder-mead"),
    ("scipy:BFSG", "unknown scipy method 'BFSG' in 'scipy:BFSG' (did you mean scipy:BFGS, "
                   "scipy:L-BFGS-B?); valid: scipy:BFGS, scipy:CG, scipy:COBYLA, scipy:COBYQA, "
                   "scipy:L-BFGS-B, scipy:Newton-CG, scipy:Powell, scipy:SLSQP, scipy:TNC, "
                   "scipy:trust-constr\n"),
    ("adamw", "list: no problem, optimizer or family is named 'adamw' (did you mean adam, "
              "adagrad, optax:adamw?)"),
])
def test_list_an_unknown_name_is_one_line(capsys, name, words):
    assert main(["list", name]) == 2
    text = capsys.readouterr().err
    err = text.strip().splitlines()
    assert len(err) == 1 and words in text, err


def test_a_name_a_family_claims_cannot_be_registered():
    registry = new_registry()
    with pytest.raises(RegistryError, match="clashes with the family 'cma' from built-in"):
        registry.add("cma", type("Mine", (), {}), "file mine.py")


def test_family_members_run_from_yaml_with_seeds(tmp_path):
    """A sweep names the families as it names the built-ins; a stochastic member takes the
    run's seed, so the seeds are different runs and the same seed the same run."""
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent("""\
        name: s
        problems:
          - rosenbrock: {dim: 2, x0: [-1.2, 1]}
        optimizers:
          - scipy:BFGS: {gtol: 1.0e-6}
          - cma: {sigma0: 0.5}
          - nevergrad:TwoPointsDE: {}
          - optax:adam: {learning_rate: 0.05}
        seeds: [0, 1]
        budget: {evaluations: 200}
    """))
    results = optbench.sweep(path, out=tmp_path / "out", workers=0, progress=False)
    df = results.summary.set_index(["optimizer", "seed"])
    assert set(df.status) <= {"converged", "budget"} and len(df) == 8
    assert df.loc[("scipy:BFGS", 0), "f_final"] == df.loc[("scipy:BFGS", 1), "f_final"]
    for stochastic in ("cma", "nevergrad:TwoPointsDE"):
        assert df.loc[(stochastic, 0), "f_best"] != df.loc[(stochastic, 1), "f_best"]
    again = optbench.run({"rosenbrock": {"dim": 2, "x0": [-1.2, 1]}}, "cma", seed=1,
                         sigma0=0.5, budget={"evaluations": 200})
    assert again.f_best == df.loc[("cma", 1), "f_best"]
    np.testing.assert_array_equal(df.loc[("cma", 1), "n_eval"], 200)


@pytest.mark.parametrize("method", [m for m in SCIPY if m in {
    "BFGS", "CG", "L-BFGS-B", "TNC", "SLSQP", "trust-constr"}])
def test_scipys_own_gradient_steps_are_refused_since_it_is_always_given_a_gradient(method):
    """eps and finite_diff_rel_step matter to scipy only when jac is not given; here it always
    is, so setting them would silently do nothing: refused as unknown."""
    options = set(inspect.signature(optimizers.make(f"scipy:{method}").__class__).parameters)
    assert not options & {"eps", "finite_diff_rel_step"}
    documented = show_options("minimize", method, disp=False)
    keys = [k for k in ("eps", "finite_diff_rel_step")
            if re.search(rf"^\s*{k}\s*:", documented, re.M)]
    assert keys  # scipy documents at least one of them for each gradient method
    for key in keys:
        with pytest.raises(optbench.ParameterError, match=f"unknown parameter '{key}'"):
            optimizers.make(f"scipy:{method}", **{key: 1e-6})


def test_newton_cgs_eps_is_its_hessian_vector_step():
    """Newton-CG differences gradients for its Hessian-vector products with eps: kept."""
    assert optimizers.make("scipy:Newton-CG", eps=1e-6).options == {"eps": 1e-6}


def test_optax_references_are_separated_as_in_its_docs(capsys):
    assert main(["list", "optax:adamw"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "  reference: Loshchilov et al, Decoupled Weight Decay Regularization, 2019; Dozat, "
        "Incorporating Nesterov Momentum into Adam, 2016")
