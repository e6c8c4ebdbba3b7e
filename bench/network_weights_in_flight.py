"""The cost of keeping each source population's spikes of the last d_max steps in the
fused c network run (``eqsnn/backends/c_network.py``, ``eqsnn_net_keep``), which lets
weights set between runs reach the spikes in flight (``FusedRun.resum``).

Same script, same networks: the Vogels-Abbott CUBA and COBA networks
(``examples/networks/vogels_abbott.py``, float64, spikes recorded, one thread), each run
with the driver as built and with the same driver compiled without the copy of the
spikes (the baseline), alternating (each first in every other repeat), CPU time, best of R.

    python bench/network_weights_in_flight.py
    python bench/network_weights_in_flight.py --n 4000 --ms 1000 --repeats 5
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "examples", "networks"))
os.environ.setdefault("EQSNN_THREADS", "1")

import vogels_abbott  # noqa: E402

from eqsnn.backends import _toolchain, c_network  # noqa: E402


def baseline_driver(precision: str):
    """The driver without the copy of each step's spikes into the history."""
    text = c_network.driver_text(precision).replace("eqsnn_net_keep(q, step, batch);", "")
    path, _ = _toolchain.compile_shared_library(text, f"eqsnn_network_nokeep_{precision}",
                                                False)
    library = _toolchain.load_library(path)
    fn = library.eqsnn_network_run
    fn.argtypes = [ctypes.POINTER(c_network.NetPop), c_network._LONG,
                   ctypes.POINTER(c_network.NetConn), c_network._LONG, c_network._LONG,
                   c_network._LONG, c_network._LONG]
    fn.restype = ctypes.c_int
    return fn, library


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--ms", type=float, default=1000.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    baseline, _library = baseline_driver("float64")
    steps = int(round(args.ms / 0.1))
    print(f"N = {args.n}, {args.ms:g} ms ({steps} steps), float64, spikes recorded; CPU s, "
          f"best of {args.repeats}, alternating")
    print("| network | d | without the history | with it | ratio |\n|---|---|---|---|---|")
    for which in ("cuba", "coba"):
        for delay in (1, 10):
            nets = {}
            for kind in ("baseline", "built"):
                net = getattr(vogels_abbott, which)(args.n, seed=1, backend="c", delay=delay)
                net.build()
                assert net.unfused_reason is None, net.unfused_reason
                if kind == "baseline":
                    net._fused.run_fn = baseline
                net.run(10)  # warm
                nets[kind] = net
            best = {kind: float("inf") for kind in nets}
            spikes = {}
            for repeat in range(args.repeats):
                order = list(nets.items())  # each first in every other repeat: no bias
                for kind, net in (order if repeat % 2 == 0 else order[::-1]):
                    net.reset()
                    began = time.process_time()
                    res = net.run(steps, record={"exc": ["spikes"], "inh": ["spikes"]})
                    best[kind] = min(best[kind], time.process_time() - began)
                    spikes[kind] = len(res["exc"].spikes) + len(res["inh"].spikes)
            assert spikes["baseline"] == spikes["built"]  # the same run
            print(f"| {which.upper()} | {delay} | {best['baseline']:.4f} | {best['built']:.4f} "
                  f"| {best['built'] / best['baseline']:.3f} |")


if __name__ == "__main__":
    main()
