"""DI randomness amplification (paper 004): certificates, Protocol I, Protocol II, records.

* :mod:`protocols.amplification.certificate` - Theorem 20's explicit chain and the terms that
  Protocol II shares with it; planners.
* :mod:`protocols.amplification.protocol1` - Protocol I (Fig. 1) runs.
* :mod:`protocols.amplification.protocol2` - Protocol II (Fig. 3, Theorem 27).
* :mod:`protocols.amplification.records` - Protocol I on recorded four-party runs.
"""
