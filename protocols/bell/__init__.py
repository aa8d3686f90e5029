"""Bell expressions and the linear programs over no-signalling boxes.

* :mod:`protocols.bell.chained` - the chained (Braunstein-Caves) expression W of paper 000.
* :mod:`protocols.bell.four_party` - the four-party Bell sum B of paper 004 (eqs. (4)-(7)) and
  the Lemma 11 linear program.
* :mod:`protocols.bell.nosignaling` - the generic no-signalling polytope LP shared by both.
* :mod:`protocols.bell.signalling` - a chi-square no-signalling test for recorded data.
"""
