"""Readouts: what a run of a population reports, as IR transformations.

Each readout turns an :class:`eqsnn.ir.Model` into one that also computes
the readout: it adds states, appends statements to the step (they observe
the state after ``after`` and before threshold and reset, as in ml_genn) or
to the reset, and sets :attr:`ir.Model.readout`, which tells the Simulator
which state to return (``Result.readout``, shaped ``(batch,) + shape``) and
which states to restore at the start of every run.  The averages divide by
the run length ``run_steps``, a param the Simulator sets at each run (listed
in :attr:`ir.Model.runtime_params`).  Times count from the start of the run
(ml_genn resets time for every example): ``first_spike_time`` and
``avg_var_exp_weight`` add an int state ``RunStep`` that counts the run's
steps and is restored with the accumulators.  An accumulator is in the unit of
the variable it reads, and ``Result.readout`` in that variable's declared unit.

Let ``y_n`` be the output variable after step ``n``'s update (before reset):

| readout | adds | returns |
|---|---|---|
| ``spike_count`` | ``Scount: int`` | the number of (positive) spikes |
| ``first_spike_time`` | ``TFirstSpike`` | ``-t`` of the first spike; ``-3.4028235e38``: none |
| ``var`` | nothing | the output variable after the run |
| ``avg_var`` | ``<var>Avg`` | ``(1/T) sum y_n`` |
| ``avg_var_exp_weight`` | ``<var>Avg`` | ``(1/T) sum exp(-n/T) y_n`` |
| ``sum_var`` | ``<var>Sum`` | ``sum y_n`` |
| ``max_var`` | ``<var>Max`` | ``max(0, max y_n)`` (floor 0, ml_genn) |
"""

from __future__ import annotations

import sympy

from .. import ir
from ..errors import LibraryError
from ..stdlib.protocol import get_object

__all__ = [
    "AvgVar", "AvgVarExpWeight", "FirstSpikeTime", "MaxVar", "Readout", "SpikeCount",
    "SumVar", "Var", "READOUTS", "get_readout", "with_readout",
]

#: the run length in steps, set by the Simulator at the start of every run
RUN_STEPS = "run_steps"
#: the state counting the steps of the run (time since the run's start)
RUN_STEP = "RunStep"
FLT_MAX = 3.4028234663852886e38


class Readout:
    """Base class: ``apply(model, output_var)`` returns the transformed IR."""

    name = "readout"

    def apply(self, model: ir.Model, output_var: str | None) -> ir.Model:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


def _symbol(name):
    return sympy.Symbol(name)


def _free(model: ir.Model, name: str) -> None:
    """Refuse a model that already uses ``name`` (a state, param, input, array, local or
    builtin), which the readout is about to declare."""
    if name in model.name_types():
        raise LibraryError(f"model {model.name} already has a {name!r}; it cannot take "
                           "this readout, which declares one",
                           hint=f"rename {name!r} in the model")


def _add_states(model: ir.Model, *states: ir.State) -> ir.Model:
    for state in states:
        _free(model, state.name)
        model = model.with_state(state)
    return model


class _SpikeReadout(Readout):
    def _check(self, model: ir.Model):
        if model.threshold is None:
            raise LibraryError(f"{type(self).__name__} readout can only be used with spiking "
                               f"models ({model.name} has no threshold)")


class SpikeCount(_SpikeReadout):
    """The number of spikes each neuron emitted in the run (negative spikes not counted)."""

    name = "spike_count"

    def apply(self, model, output_var=None):
        self._check(model)
        count = "Scount"
        model = _add_states(model, ir.State(count, "int", sympy.Integer(0)))
        model = model.with_reset(ir.Assign(count, _symbol(count) + 1))
        return model.replace(readout=ir.Readout(self.name, count, (count,))).validate()


class FirstSpikeTime(_SpikeReadout):
    """Minus the time of each neuron's first spike in the run; ``-3.4028235e38`` if none.

    The sign and the "no spike" value are ml_genn's: the largest value
    belongs to the earliest spike, so an arg-max classifies.  The time counts
    from the start of the run (ml_genn resets time for every example).
    """

    name = "first_spike_time"

    def apply(self, model, output_var=None):
        self._check(model)
        first = "TFirstSpike"
        model = _add_states(model, ir.State(first, "float", sympy.Float(-FLT_MAX)))
        model, run_step = _with_run_clock(model)
        model = model.with_reset(
            ir.Assign(first, sympy.Max(-run_step * _symbol("dt"), _symbol(first))))
        readout = ir.Readout(self.name, first, (first, RUN_STEP))
        return model.replace(readout=readout).validate()


def _with_run_clock(model: ir.Model) -> tuple[ir.Model, sympy.Symbol]:
    """Count the steps of the run in the state ``RunStep`` (restored at every run start).

    Returns the model and the step-local holding this step's index within
    the run, readable by later step statements and by the reset.
    """
    model = _add_states(model, ir.State(RUN_STEP, "int", sympy.Integer(0)))
    local = sympy.Symbol("_run_step")
    model = model.with_step(ir.Local(local.name, "int", _symbol(RUN_STEP)),
                            ir.Assign(RUN_STEP, _symbol(RUN_STEP) + 1))
    return model, local


class _VarReadout(Readout):
    suffix = ""

    def _output(self, model: ir.Model, output_var: str | None) -> str:
        if not model.states:
            raise LibraryError(f"{type(self).__name__} readout can only be used with models "
                               f"with state variables ({model.name} has none)")
        if output_var is None:
            raise LibraryError(f"{type(self).__name__} readout needs an output variable, "
                               f"and {model.name} names none",
                               hint="give var=... when attaching it to your own model")
        if output_var not in {s.name for s in model.states}:
            raise LibraryError(f"output variable {output_var!r} of {type(self).__name__} "
                               f"readout is not a state of {model.name}")
        return output_var

    def _accumulate(self, model, output_var, init, statement_for):
        y = self._output(model, output_var)
        acc = y + self.suffix
        model = _add_states(model, ir.State(acc, "float", sympy.Float(init)))
        unit = dict(model.units).get(y)
        if unit is not None:  # a sum, mean or maximum of y is in y's unit
            model = model.replace(units=model.units + ((acc, unit),))
        model = model.with_step(*statement_for(acc, _symbol(acc), _symbol(y)))
        return model.replace(readout=ir.Readout(self.name, acc, (acc,))).validate()


def _with_run_steps(model: ir.Model) -> ir.Model:
    if RUN_STEPS in model.runtime_params:
        return model
    _free(model, RUN_STEPS)
    model = model.with_param(ir.Param(RUN_STEPS, "int", 1, (ir.Constraint(">", 0),)))
    return model.replace(runtime_params=model.runtime_params + (RUN_STEPS,))


class Var(_VarReadout):
    """The output variable at the end of the run (after the last reset)."""

    name = "var"

    def apply(self, model, output_var=None):
        y = self._output(model, output_var)
        return model.replace(readout=ir.Readout(self.name, y, ())).validate()


class AvgVar(_VarReadout):
    """The mean of the output variable over the run's steps, before each reset."""

    name = "avg_var"
    suffix = "Avg"

    def apply(self, model, output_var=None):
        model = _with_run_steps(model)
        steps = _symbol(RUN_STEPS)
        return self._accumulate(model, output_var, 0.0,
                                lambda name, acc, y: [ir.Assign(name, acc + y / steps)])


class AvgVarExpWeight(_VarReadout):
    """``(1/T) sum_n exp(-n/T) y_n``: an average that weighs early steps more (Nowotny 2024).

    ``n`` counts the steps from the start of the run (ml_genn's ``t/dt`` with
    time reset for every example).
    """

    name = "avg_var_exp_weight"
    suffix = "Avg"

    def apply(self, model, output_var=None):
        y = self._output(model, output_var)
        model = _with_run_steps(model)
        model, run_step = _with_run_clock(model)
        steps = _symbol(RUN_STEPS)
        weight = sympy.exp(-run_step / steps)
        model = self._accumulate(model, y, 0.0,
                                 lambda name, acc, y: [ir.Assign(name, acc + weight * y / steps)])
        readout = model.readout
        return model.replace(readout=ir.Readout(readout.kind, readout.state,
                                                readout.reset + (RUN_STEP,))).validate()


class SumVar(_VarReadout):
    """The sum of the output variable over the run's steps, before each reset."""

    name = "sum_var"
    suffix = "Sum"

    def apply(self, model, output_var=None):
        return self._accumulate(model, output_var, 0.0,
                                lambda name, acc, y: [ir.Assign(name, acc + y)])


class MaxVar(_VarReadout):
    """The largest value of the output variable in the run, but at least 0 (as ml_genn)."""

    name = "max_var"
    suffix = "Max"

    def apply(self, model, output_var=None):
        return self._accumulate(
            model, output_var, 0.0,
            lambda name, acc, y: [ir.If(sympy.Gt(y, acc), (ir.Assign(name, y),))])


#: readout names (ml_genn's snake_case class names) -> classes
READOUTS = {cls.name: cls for cls in (
    AvgVar, AvgVarExpWeight, FirstSpikeTime, MaxVar, SpikeCount, SumVar, Var)}


def get_readout(readout) -> Readout | None:
    """A readout from its name or object (a copy), as ml_genn's ``get_object``; None stays None."""
    return get_object(readout, READOUTS, Readout, "Readout")


def with_readout(model, readout, var: str | None = None):
    """``model`` (an :class:`eqsnn.Model`) with ``readout`` added; ``var``: its output variable."""
    from ..model import Model

    if not isinstance(model, Model):
        if hasattr(model, "eqs_name"):  # a standard-library neuron
            hint = "a standard-library neuron takes its readout as neuron.readout = ..."
        else:
            hint = "load the model first: with_readout(eqsnn.load(path), ...)"
        raise LibraryError(f"with_readout takes an eqsnn.Model, not "
                           f"{type(model).__name__}", hint=hint)
    readout = get_readout(readout)
    if readout is None:
        return model
    return Model(readout.apply(model.ir, var), model.text, model.filename)
