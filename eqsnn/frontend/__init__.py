"""The front end: model text to a checked model with SymPy expressions.

``grammar/eqsnn.lark`` is the language; :mod:`.parse` turns text into the
frozen syntax tree of :mod:`.syntax`; :mod:`.check` resolves names,
switches and types and, with :mod:`.expressions`, turns every expression
into SymPy.  The result, :class:`.check.Checked`, goes to :mod:`eqsnn.solve`.
See ``docs/architecture.md``.
"""
