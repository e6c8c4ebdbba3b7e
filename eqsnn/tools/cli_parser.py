"""The arguments of the ``eqsnn`` command line: one parser, a subparser per command.

The commands themselves are in :mod:`eqsnn.tools.cli`, which hands its functions to
:func:`build_parser`; this module only says what each command reads.
"""

from __future__ import annotations

import argparse

from .cli_values import count_argument as _count
from .cli_values import time_step_argument as _time_step

__all__ = ["build_parser"]

DESCRIPTION = """\
Write spiking-neuron dynamics as equations; eqsnn derives the update of one
step (exact where the ODEs are linear with constant coefficients) and runs it
on NumPy, C, CUDA (CuPy) or GeNN.

MODEL is a path to a .eqs file, the name of an example in ./examples
(e.g. lif_pulse), or a standard-library neuron (e.g. leaky_integrate_fire);
compare and bench also take a network file, a .py that defines
build(backend, precision, seed) returning an eqsnn.network.Network.
"""

EPILOG = """\
examples:
  eqsnn run examples/lif_pulse.eqs --steps 200 --input Isyn=0.05:0.14 --plot lif.png
  eqsnn run lif_held --input I=18 --record V --steps 500 --dt 0.1
  eqsnn show examples/hh.eqs
  eqsnn emit lif_expsyn --backend numpy
  eqsnn check my_model.eqs
  eqsnn compare lif_expsyn --backends numpy,c --steps 300
  eqsnn bench leaky_integrate_fire --backends numpy,c --n 10000,100000
  eqsnn compare examples/networks/cuba_small.py --backends numpy,c
  eqsnn list
"""


def build_parser(commands: dict) -> argparse.ArgumentParser:
    """The parser; ``commands`` maps each command's name to the function that runs it."""
    parser = argparse.ArgumentParser(prog="eqsnn", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, help_text):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=commands[name])
        return p

    _run_arguments(add("run", "simulate a model and print a spike summary"))
    show = add("show", "show the derived update, the method and why")
    show.add_argument("model", metavar="MODEL")
    show.add_argument("--closed-form", action="store_true",
                      help="also print the SymPy closed form of exp(A dt) (slow for big systems)")
    emit_p = add("emit", "print the code a backend generates")
    emit_p.add_argument("model", metavar="MODEL")
    emit_p.add_argument("--backend", default="numpy",
                        help="numpy (default), c, cupy or pygenn")
    emit_p.add_argument("--precision", default="float32", choices=["float32", "float64"],
                        help="(default float32)")
    _fast_math_flag(emit_p, "print the code")
    check_p = add("check", "parse and validate only (non-zero exit on error)")
    check_p.add_argument("model", metavar="MODEL")
    add("list", "list the examples and the standard library")
    _compare_arguments(add("compare", "run a model on several backends and compare"))
    _bench_arguments(add("bench", "time a model on each backend on this machine"))
    return parser


def _fast_math_flag(p, what):
    p.add_argument("--fast-math", action="store_true",
                   help=f"{what} with fast_math: contracted multiply-adds and float32 "
                        "math functions (c, cupy, pygenn; numpy ignores it)")


def _param_flag(p):
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="a parameter value; repeat for several (VALUE may be 1,2,3 or LO:HI, "
                        "spread over the neurons)")


def _run_arguments(run):
    run.add_argument("model", metavar="MODEL")
    run.add_argument("--backend", default="numpy", help="numpy (default), c, cupy or pygenn")
    run.add_argument("--steps", type=_count, default=1000, help="number of steps (default 1000)")
    run.add_argument("--n", type=_count, default=10, help="number of neurons (default 10)")
    run.add_argument("--batch", type=_count, default=1, help="batch lanes (default 1)")
    run.add_argument("--dt", type=_time_step, default=1.0,
                     help="time step in ms (default 1.0), or with a unit: 100us")
    run.add_argument("--precision", default="float32", choices=["float32", "float64"],
                     help="(default float32)")
    run.add_argument("--seed", type=int, default=0, help="seed of the random numbers")
    run.add_argument("--input", action="append", metavar="NAME=VALUE",
                     help="a held input value; repeat for several (VALUE may be 1,2,3 "
                          "or LO:HI, spread over the neurons)")
    _param_flag(run)
    run.add_argument("--record", action="append", metavar="VAR",
                     help="a state to record (summarised, and plotted with --plot); repeat "
                          "for several")
    run.add_argument("--plot", metavar="FILE.png", help="write a raster and traces")
    run.add_argument("--progress", action="store_true",
                     help="show a progress bar on stderr (default: none)")
    _fast_math_flag(run, "run")


def _compare_arguments(cmp):
    cmp.add_argument("model", metavar="MODEL", help="a model, or a network file (.py)")
    cmp.add_argument("--backends", help="comma-separated, e.g. numpy,c (default: all); the "
                                        "reference is numpy for a model, the first backend "
                                        "for a network file")
    cmp.add_argument("--steps", type=_count,
                     help="number of steps (default 200 for a model; for a network file, "
                          "the file's STEPS if it sets one, else 1000)")
    cmp.add_argument("--n", type=_count, help="number of neurons (default 10)")
    cmp.add_argument("--batch", type=_count, help="batch lanes (default 1)")
    cmp.add_argument("--dt", type=_time_step, help="time step in ms (default 1.0), or with a "
                                                    "unit: 100us")
    cmp.add_argument("--precision", default="float64", choices=["float32", "float64"],
                     help="(default float64)")
    cmp.add_argument("--tolerance", type=float,
                     help="states agree within tolerance * (1 + |reference|) (default 1e-9, "
                          "1e-5 for a model in float32)")
    cmp.add_argument("--seed", type=int, default=0, help="seed of the random numbers "
                                                         "(default 0)")
    cmp.add_argument("--input", action="append", metavar="NAME=VALUE",
                     help="a held input value; repeat for several (VALUE may be 1,2,3 or "
                          "LO:HI, spread over the neurons)")
    _param_flag(cmp)
    cmp.add_argument("--json", action="store_true",
                     help="print the comparison as JSON (Comparison.to_json) instead of the "
                          "table; the exit code is the same")
    _fast_math_flag(cmp, "run the backends other than the reference")


def _bench_arguments(bench):
    bench.add_argument("model", metavar="MODEL", help="a model, or a network file (.py)")
    bench.add_argument("--backends", help="comma-separated, e.g. numpy,c (default: all)")
    bench.add_argument("--n", help="population sizes, e.g. 1e4,1e5 (default 1e4)")
    bench.add_argument("--steps", type=_count,
                       help="steps per timed run (default 1000, or a network file's STEPS)")
    bench.add_argument("--repeats", type=_count, default=3,
                       help="best of this many runs (default 3)")
    bench.add_argument("--batch", type=_count, help="batch lanes (default 1)")
    bench.add_argument("--dt", type=_time_step, help="time step in ms (default 1.0), or with a "
                                                      "unit: 100us")
    bench.add_argument("--precision", default="float32", choices=["float32", "float64"],
                       help="(default float32)")
    bench.add_argument("--input", action="append", metavar="NAME=VALUE",
                       help="a held input value; repeat for several")
    _param_flag(bench)
    bench.add_argument("--spikes", action="store_true", help="record spikes in the timed runs")
    bench.add_argument("--json", action="store_true", help="print JSON instead of the table")
    _fast_math_flag(bench, "time every backend")
