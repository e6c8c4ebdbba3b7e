"""Printers: from IR expressions to backend code.

Every printer starts from the same lowering, :func:`eqsnn.printing.lower.lower`,
which turns a SymPy expression into an ordered list of three-address ops
(the lowered IR of :mod:`eqsnn.printing.ops`, with its op table).
That list *is* the floating-point evaluation order; a printer prints the ops
one by one, in list order, and never reassociates them.  So the NumPy, C and
CUDA code of a model compute the same bits for ``+ - * /``, ``sqrt``,
``floor``/``ceil``, ``min``/``max`` and ``mod``, and float64 trajectories
of models without transcendental functions (exp, log, sin, ...) are
bit-identical between the ``numpy`` and ``c`` backends.

The convention:

* An n-ary ``Add`` folds left to right in ``expr.args`` order (SymPy's
  canonical order, not the order the user wrote); a term with a negative
  coefficient, ``-u``, is subtracted: ``acc - u`` (the same bits as
  ``acc + (-u)``).  A leading negative term is negated.
* A ``Mul`` is ``(numerator factors) / (denominator factors)``, each folded
  left to right; factors with a negative numeric exponent form the
  denominator (``a*b/c`` is ``(a*b)/c``, never ``a*(1/c)``).  A negative
  numeric coefficient is pulled out as a final negation.
* ``x**n`` for an integer ``|n| <= 16`` is repeated multiplication folded
  left (``x**3 = (x*x)*x``), ``x**-n = 1/x**n``, ``x**0.5 = sqrt(x)``,
  ``x**-0.5 = 1/sqrt(x)``; any other power is ``pow(x, y)``.
* Rational and float constants are evaluated in float64 and then rounded to
  the model precision (``x/3`` is ``0.3333333333333333 * x``).
* ``Min``/``Max`` fold left with ``fmin``/``fmax`` semantics (a NaN
  argument is ignored); of -0 and +0 the sign of the result is not specified,
  as in C99 and in NumPy, whose SIMD and scalar loops differ there; ``mod``
  (``ir.mod``, the language's ``%``; also SymPy's ``Mod``) is the floored modulo (the
  result has the sign of the divisor, as Python's ``%`` and NumPy's ``remainder``);
  ``ir.floor_div`` (``//``) is the int op ``floordiv`` of two ints, else ``floor`` of
  the ``div`` (a division, never a product with the reciprocal).
* Types: ``int`` mixed with ``float`` is converted to float first; ``/`` is
  always true (float) division; float to int truncates toward zero.
* ``exp``, ``expm1``, ``log``, ``log1p``, ``sin``, ``cos``, ``tanh`` and
  ``pow`` are evaluated in float64 and rounded to the precision (in float32
  the correctly rounded result but for rare double roundings, the same in
  every backend; ``fast_math`` uses float32 functions instead).
* ``phi1(z)`` is ``select(z == 0, 1, expm1(z) / z)``; ``Piecewise`` is a
  nest of selects with every branch evaluated; ``ArrayGet`` clamps its
  index to ``[0, len - 1]``.
* ``RandUniform(k)`` / ``RandNormal(k)`` are draw ``k`` of the step from
  :mod:`eqsnn.rng`, counter ``(step, neuron, lane, k)``.

The C printer must also keep the compiler from contracting multiply-adds
(``-ffp-contract=off``); see "Floating point" in ``docs/architecture.md``.
"""
