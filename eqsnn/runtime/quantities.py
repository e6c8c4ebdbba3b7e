"""Values with units in and out of a Simulator.

Every value in the IR is in the internal unit (ms, mV, nA, nF, uS, MOhm,
um, mM; see :mod:`eqsnn.units`).  The user sees each param, state and input
in its *declared* unit, the one written in the model (``param c_mem = 281 pF``
is given and shown in pF):

* a plain number (or array) is in the declared unit;
* a :class:`eqsnn.units.Quantity` (``20 * eqsnn.units.ms``) or a string
  (``"20 ms"``) is converted from its own unit, after its dimension is checked;
* recorded states and :attr:`Simulator.state` come back in the declared unit.

A model without units passes its values through untouched.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ..units import TIME, Quantity, Unit, UnitError, internal_symbol, parse_quantity

__all__ = ["to_internal", "from_internal", "declared_units", "time_step", "refuse_masked"]


def declared_units(model) -> dict[str, Unit]:
    return dict(getattr(model, "units", ()))


def _quantity(what: str, value, strict: bool = True) -> Quantity | None:
    """``value`` as a Quantity where it is one or a string; ``strict=False`` leaves a string
    that is not a quantity alone (a model without units says 'must be numeric')."""
    if isinstance(value, Quantity):
        return value
    if isinstance(value, Unit):  # eqsnn.units.ms alone is one ms, as Brian2's ms is
        return Quantity(1.0, value)
    if isinstance(value, str):
        try:
            return parse_quantity(value)
        except UnitError as exc:
            if not strict:
                return None
            raise ParameterError(f"{what}: {exc.message}", hint=exc.hint) from None
    return None


def refuse_masked(what: str, value) -> None:
    """A ParameterError for a masked array that hides values: ``np.asarray`` would drop the
    mask and keep whatever lies under it."""
    if isinstance(value, np.ma.MaskedArray) and np.ma.getmaskarray(value).any():
        where = np.unravel_index(int(np.argmax(np.ma.getmaskarray(value))), np.shape(value))
        at = f" at index {tuple(int(i) for i in where)}" if np.ndim(value) else ""
        raise ParameterError(f"{what} is a masked array with masked values{at}; eqsnn has "
                             "no missing values, and would run on the data under the mask",
                             hint="fill them first: value.filled(0.0)")


def to_internal(model, kind: str, name: str, value):
    """``value`` for param/state/input ``name`` in the internal unit (checked)."""
    unit = declared_units(model).get(name)
    what = f"{kind} {name!r}"
    refuse_masked(what, value)
    quantity = _quantity(what, value, strict=unit is not None)
    if quantity is None:
        if unit is None or unit.factor == 1:
            return value
        if hasattr(value, "__cuda_array_interface__"):  # stays on the device
            return unit.to_internal(value)  # as on the host: pA → nA is / 1000
        array = np.asarray(value) if not isinstance(value, np.ndarray) else value
        if array.dtype.kind not in "biuf":
            return value  # not numbers: check_numeric says so
        return unit.to_internal(array.astype(np.float64))
    given = quantity.unit
    if given.symbol == "" and given.dimension.dimensionless:  # "20": a plain number
        return to_internal(model, kind, name, quantity.value)
    wanted = unit.dimension if unit is not None else given.dimension / given.dimension
    if given.dimension != wanted:
        expected = (f"is in {unit} ({wanted.words()})" if unit is not None
                    else "has no unit (dimensionless)")
        raise ParameterError(
            f"{what} {expected}; got {quantity} ({given.dimension.words()})",
            hint=(f"give it in {unit}, as a plain number or e.g. '1 {unit}'" if unit is not None
                  else "give a plain number: it has no unit in this model"))
    return given.to_internal(np.asarray(quantity.value, dtype=np.float64))


def from_internal(model, name: str, value):
    """A state's value in the internal unit → its declared unit."""
    unit = declared_units(model).get(name)
    if unit is None or unit.factor == 1:
        return value
    return unit.from_internal(value)


def unit_symbols(model, names) -> dict[str, str | None]:
    """``{name: 'mV'}`` for each of ``names`` (None where it has no unit)."""
    units = declared_units(model)
    return {name: (str(units[name]) if name in units else None) for name in names}


def time_step(dt):
    """``dt``: a plain number is in ms; ``0.1 * eqsnn.units.ms`` or ``"100 us"`` converted."""
    quantity = _quantity("dt", dt)
    if quantity is None:
        return dt
    if quantity.unit.symbol == "" and quantity.unit.dimension.dimensionless:
        return quantity.value
    if quantity.unit.dimension != TIME:
        raise ParameterError(f"dt must be a time; got {quantity}",
                             hint="give dt in ms, e.g. dt=0.1 or dt='0.1 ms'")
    if np.ndim(quantity.value) != 0:
        raise ParameterError(f"dt must be one time step; got {np.size(quantity.value)} values "
                             f"in {quantity.unit}", hint="give one value, e.g. dt=0.1 * ms")
    return float(quantity.unit.to_internal(np.float64(quantity.value)))


def convert_values(model, kind: str, values: dict, *, is_value) -> dict:
    """``values`` (params or initial states) in the internal unit, for ``eqsnn.genn``.

    ``is_value(v)``: v is data (a number or array), not an initialiser.  An
    initialiser draws in the internal unit, so it is refused where the declared
    unit is not the internal one (it would be silently off by that factor)."""
    units = declared_units(model)
    out = {}
    for name, value in values.items():
        unit = units.get(name)
        if isinstance(value, (Quantity, Unit)) or _reads_as_quantity(value) or (
                not isinstance(value, str) and is_value(value)):
            out[name] = to_internal(model, kind, name, value)
        elif unit is not None and unit.factor != 1:
            raise ParameterError(
                f"{kind} {name!r} is declared in {unit}, not in {internal_symbol(unit.dimension)}"
                " as the compiled code holds it; an initialiser draws in the code's unit and "
                "cannot be converted",
                hint="draw the values with NumPy and pass the array, or declare the value in "
                f"{internal_symbol(unit.dimension)}")
        else:
            out[name] = value
    return out


def _reads_as_quantity(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parse_quantity(value)
    except UnitError:
        return False
    return True
