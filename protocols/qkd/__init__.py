"""DI-QKD (paper 000): protocol steps, key lengths, error correction.

* :mod:`protocols.qkd.protocol` - Sec. III A end to end (estimation, raw key, distillation).
* :mod:`protocols.qkd.keyrate` - the no-signalling key length of eq. (17) and the rate (21).
* :mod:`protocols.qkd.quantum_keyrate` - the quantum-adversary key length N_s^Q (Appendix A).
* :mod:`protocols.qkd.chsh` and :mod:`protocols.qkd.chsh_keyrate` - the CHSH protocol and its
  entropy-accumulation key length (quantum adversaries).
* :mod:`protocols.qkd.reconciliation` - one-way LDPC error correction with a hash tag.
* :mod:`protocols.qkd.ldpc_codes` - the parity-check matrices it uses.
* :mod:`protocols.qkd.error_rate` - the error-rate estimate that chooses the code.
"""
