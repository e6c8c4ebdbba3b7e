"""The ``eqsnn`` command line: run, show, emit, check, compare, bench, list (the arguments
each reads are in :mod:`eqsnn.tools.cli_parser`)."""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from pathlib import Path

from ..errors import EqsnnError
from . import cli_parser
from .cli_values import check_population_memory
from .cli_values import pairs as _pairs

DESCRIPTION, EPILOG = cli_parser.DESCRIPTION, cli_parser.EPILOG


def find_model(spec: str, switches: dict | None = None):
    """A compiled model (or standard-library neuron) from a path or a name."""
    from ..model import load

    path = Path(spec)
    if path.suffix == ".py":  # compare and bench take a network file before this
        raise EqsnnError(f"{spec} is a network file; this command takes a model",
                         hint=f"compare and bench run a network file: eqsnn compare {spec}")
    if path.suffix == ".eqs" and path.parent == Path(".") and not path.exists() \
            and (Path("examples") / path.name).exists():  # lif_pulse.eqs: the example's
        raise EqsnnError(f"no model file {spec!r} here",
                         hint=f"the example is examples/{path.name}; or give its name "
                              f"alone: {path.stem}")
    if path.suffix == ".eqs" or path.is_file():  # a folder called lif_pulse hides no example
        return load(path, switches=switches)
    example = Path("examples") / f"{spec}.eqs"
    if example.exists():
        return load(example, switches=switches)
    library = _library()
    if library is not None and spec in library.NAMES:
        return library.get_neuron(spec)
    if path.exists():  # a folder that names no model: say so
        return load(path, switches=switches)
    known = sorted(_example_names()) + sorted(library.NAMES if library else [])
    from ..errors import suggest

    raise EqsnnError(f"no model called {spec!r}",
                     hint=suggest(spec, known) or "give a .eqs path; 'eqsnn list' shows names")


def _library():
    try:
        from .. import neurons
    except ImportError:  # pragma: no cover - the library is part of the package
        return None
    return neurons if hasattr(neurons, "NAMES") else None


def _example_names():
    return [p.stem for p in Path("examples").glob("*.eqs")]


def _as_model(obj):
    """The ``eqsnn.Model`` behind a stdlib neuron object, for show/emit."""
    if hasattr(obj, "ir"):
        return obj
    if hasattr(obj, "model"):
        return obj.model()
    raise EqsnnError(f"cannot show {obj!r}")


def cmd_run(args):
    from .. import Simulator

    _check_steps(args)
    if args.plot:
        from ..runtime.paths import check_figure_path

        check_figure_path(args.plot)  # before the run, not after it
        _need_matplotlib()
    model = find_model(args.model)
    check_population_memory(model, args.n, args.batch, args.precision)
    sim = Simulator(model, args.n, batch_size=args.batch, dt=args.dt, backend=args.backend,
                    precision=args.precision, params=_pairs(args.param, "param", args.n),
                    seed=args.seed,
                    fast_math=args.fast_math)
    record = list(dict.fromkeys(args.record or []))  # a state named twice: summarised once
    if args.plot and not record:  # a plot shows the first state's trace with the raster
        from .comparison import float_states

        record = float_states(model)[:1]
    spiking = sim.model.spiking
    if spiking and "spikes" not in record:
        record.append("spikes")
    inputs = _pairs(args.input, "input", args.n)
    if not hasattr(model, "ir"):  # a stdlib input neuron takes ml_genn's (n,) data shape
        import numpy as np

        inputs = {k: np.full(args.n, v) if np.ndim(v) == 0 else v for k, v in inputs.items()}
    result = sim.run(args.steps, inputs=inputs, record=record,
                     progress=args.progress)  # True: always; False: never
    spikes = result.spikes
    total = len(spikes.step) if spiking else 0
    seconds = args.steps * args.dt / 1000.0
    name = getattr(model, "name", type(model).__name__)
    print(f"{name}: {args.n} neurons x {args.batch} lanes, {args.steps} steps of "
          f"{args.dt} ms on {args.backend} ({args.precision})")
    if not spiking:
        print("spikes: none (the model has no threshold)")
    elif seconds > 0:
        print(f"spikes: {total}  mean rate: {total / (args.n * args.batch * seconds):.2f} Hz")
    else:
        print("spikes: 0 (no steps run)")
    if total:
        print(f"first spike: step {spikes.step[0]} (t = {spikes.step[0] * args.dt:.12g} ms), "
              f"neuron {spikes.neuron[0]}")
    for var in record:
        if var != "spikes" and result.vars[var].size:
            values = result.vars[var]
            print(f"{var}: final mean {values[-1].mean():.6g}, min {values.min():.6g}, "
                  f"max {values.max():.6g}")
    if args.plot:
        result.plot(args.plot)
        print(f"plot written to {args.plot}")
    return 0


def _need_matplotlib() -> None:
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise EqsnnError("--plot needs matplotlib", hint="pip install eqsnn[plot]")


def _tolerance(value: float | None) -> float | None:
    """``--tolerance``, checked; None (not given): the default of the precision."""
    if value is None:
        return None
    if not math.isfinite(value) or value < 0:
        raise EqsnnError(f"--tolerance must be a finite number >= 0, not {value!r}",
                         hint="e.g. --tolerance 1e-9 (0: only identical values agree)")
    return value


def cmd_show(args):
    model = _as_model(find_model(args.model))
    print(model)
    if args.closed_form:
        import sympy

        forms = model.closed_form()
        for label, matrix in forms:
            print(f"closed form of {label}:")
            print(sympy.pretty(matrix, use_unicode=False))
        if not forms:  # say so, rather than print nothing
            print("closed form: none (no coupled linear system; " + (
                "each step above is already the exact solution)" if model.method == "exact"
                else f"method {model.method} has none)"))
    return 0


def cmd_emit(args):
    from ..backends import EmitOptions, emit

    model = _as_model(find_model(args.model))
    options = EmitOptions(precision=args.precision, fast_math=args.fast_math)
    print(emit(model.ir, args.backend, options).text)
    return 0


def cmd_check(args):
    model = _as_model(find_model(args.model))
    print(f"{args.model}: ok ({model.name}, method {model.method})")
    return 0


def cmd_list(args):
    examples = sorted(_example_names())
    if examples:
        print("examples (./examples):")
        for name in examples:
            print(f"  {name}")
    library = _library()
    if library is not None:
        print("standard library (eqsnn.neurons):")
        for name in sorted(library.NAMES):
            print(f"  {name}")
    return 0


#: what ``compare`` and ``bench`` take from a network file, not from these flags
NETWORK_FILE_FLAGS = {"n": "--n", "dt": "--dt", "input": "--input", "param": "--param",
                      "batch": "--batch", "fast_math": "--fast-math", "json": "--json"}


def _network_file(args) -> bool:
    """Whether MODEL names a network file; one refuses the flags its build() decides."""
    if not args.model.endswith(".py"):
        return False
    for attribute, flag in NETWORK_FILE_FLAGS.items():
        if getattr(args, attribute, None) not in (None, False):
            raise EqsnnError(f"{flag} does not apply to a network file ({args.model})",
                             hint="its build(backend, precision, seed) sets the sizes, dt and "
                                  "options, and its INPUTS the inputs; remove " + flag)
    return True


def _check_steps(args) -> None:
    """``--steps`` of run, compare and bench: at least 1, with the same message for each
    (zero steps would run nothing, compare nothing and time nothing)."""
    if args.steps is not None and args.steps < 1:  # None: a network file's STEPS
        raise EqsnnError(f"--steps must be at least 1, not {args.steps}",
                         hint=f"eqsnn {args.command} ... --steps 100")


def cmd_compare(args):
    from .comparison import compare

    _check_steps(args)
    if _network_file(args):  # a network file (eqsnn.network.tools)
        from ..network.tools import compare_networks

        backends = _backends(args)
        tolerance = _tolerance(args.tolerance)
        given = {} if tolerance is None else {"rtol": tolerance, "atol": tolerance}
        comparison = compare_networks(args.model, backends, precision=args.precision,
                                      seed=args.seed, steps=args.steps,  # None: its STEPS
                                      **given)
        print(comparison)
        return 0 if comparison.ok else 1
    model = find_model(args.model)
    backends = _backends(args)
    n, batch = _or(args.n, 10), _or(args.batch, 1)
    check_population_memory(model, n, batch, args.precision)
    comparison = compare(model, backends, n=n, steps=_or(args.steps, 200), dt=_or(args.dt, 1.0),
                         precision=args.precision, inputs=_pairs(args.input, "input", n),
                         params=_pairs(args.param, "param", n), batch_size=batch,
                         rtol=_tolerance(args.tolerance), atol=args.tolerance,
                         seed=args.seed,
                         fast_math=args.fast_math)
    print(comparison.to_json(indent=2) if args.json else comparison)
    named = [r for r in comparison.reports if r.status == "skipped"] if args.backends else []
    for report in named:  # asked for by name: its comparison did not happen
        print(f"error: backend {report.backend!r} was named in --backends but could not run "
              f"here, so it was not compared: {report.reason}", file=sys.stderr)
    return 0 if comparison.ok and not named else 1


def _backends(args) -> list[str] | None:
    """``--backends``, checked (misspelt, empty or named twice: an error before any run);
    None: not given."""
    from .comparison import backend_names

    return None if args.backends is None else backend_names(args.backends)


def _or(value, default):
    """A flag's value, or the default of a model (a network file's come from the file)."""
    return default if value is None else value


def cmd_bench(args):
    from .benchmarking import benchmark

    _check_steps(args)
    if _network_file(args):  # a network file (eqsnn.network.tools)
        from ..network.tools import time_networks
        from ..runtime.arguments import positive_int

        backends = _backends(args)
        repeats = positive_int("--repeats", args.repeats)  # 0 printed a time of inf
        print(time_networks(args.model, backends, precision=args.precision, steps=args.steps,
                            repeats=repeats))  # steps None: the file's STEPS
        return 0
    model = find_model(args.model)
    backends = _backends(args)
    try:
        sizes = [float(size) for size in _or(args.n, "10000").split(",")]
    except ValueError:
        raise EqsnnError(f"--n {args.n!r} is not a list of sizes",
                         hint="e.g. --n 10000,100000 (or 1e4,1e5)") from None
    if all(math.isfinite(size) and size >= 1 for size in sizes):  # else benchmark says why
        check_population_memory(model, int(max(sizes)), _or(args.batch, 1), args.precision)
    one_size = int(sizes[0]) if len(sizes) == 1 and math.isfinite(sizes[0]) else None
    report = benchmark(model, backends, sizes=sizes, steps=_or(args.steps, 1000),
                       repeats=args.repeats, dt=_or(args.dt, 1.0), precision=args.precision,
                       inputs=_pairs(args.input, "input", one_size),
                       params=_pairs(args.param, "param", one_size), batch_size=_or(args.batch, 1),
                       record_spikes=args.spikes,
                       fast_math=args.fast_math)
    print(report.to_json() if args.json else report)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command (:mod:`eqsnn.tools.cli_parser`), each bound to its
    function here."""
    return cli_parser.build_parser({"run": cmd_run, "show": cmd_show, "emit": cmd_emit,
                                    "check": cmd_check, "list": cmd_list,
                                    "compare": cmd_compare, "bench": cmd_bench})


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warning: ...`` on stderr, as errors are (not the Python line of the entry point)."""
    print(f"warning: {message}", file=sys.stderr if file is None else file)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():  # the filter and format hold for this command only
        warnings.simplefilter("default")
        warnings.showwarning = _show_warning
        return _run(args)


def _run(args) -> int:
    try:
        return args.func(args)
    except EqsnnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except MemoryError as exc:  # numpy could not allocate what the arguments asked for
        print(f"error: not enough memory: {exc}\nhint: run fewer neurons (--n), lanes "
              "(--batch) or steps (--steps)", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the output went to a pipe that closed (eqsnn ... | head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or the environment: one line, not a traceback
        if os.environ.get("EQSNN_TRACEBACK"):
            raise
        message = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
        print(f"error: {message}\nhint: if this looks like a bug in eqsnn, report it with "
              "the command; set EQSNN_TRACEBACK=1 to see where it happened", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
