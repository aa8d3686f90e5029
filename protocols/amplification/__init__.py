"""DI randomness amplification (paper 004): certificates, Protocol I, Protocol II, records.

* :mod:`protocols.amplification.certificate_base` - checks, the ``log2`` error-bound mixin and
  the searches over ``n`` and ``m`` shared by every certificate.
* :mod:`protocols.amplification.paper_device_terms` - the per-device terms of paper 004's chain
  (Azuma, Lemmas 9-12, ``delta_1``, the Markov threshold) shared by Protocols I and II.
* :mod:`protocols.amplification.certificate` - Theorem 20's explicit chain (``--certificate paper``).
* :mod:`protocols.amplification.improved_certificate` - the improved Protocol I chain (default).
* :mod:`protocols.amplification.lp_cache` - on-disk cache of the Lemma 11 LP values.
* :mod:`protocols.amplification.calibration` - Bell value, ``delta`` and ``n`` from a calibration.
* :mod:`protocols.amplification.protocol1` - Protocol I (Fig. 1) runs.
* :mod:`protocols.amplification.protocol2` - Protocol II (Fig. 3, Theorem 27).
* :mod:`protocols.amplification.records` - Protocol I on recorded four-party runs.

Extractor models (the certificates' explicit extractors) are in :mod:`extractors.models`.
"""
