"""What the standard library (:mod:`eqsnn.neurons`, :mod:`eqsnn.readouts`) shares
with the places that build its objects: :mod:`.protocol`.
"""
