"""The solve stage: the ODEs as a system, the update for one step, hoisting.

:mod:`.analysis` writes the ODEs as ``x' = A x + f + g xi`` and decides
which methods apply; :mod:`.solvers` derives the update of the chosen
method as IR statements; :mod:`.assemble` puts one step together;
:mod:`.hoist` moves parameter-only terms to the host precompute.
See ``docs/architecture.md``.
"""
