"""One shape for every protocol result (DI-QKD and randomness amplification).

Each result is a frozen dataclass that also derives from :class:`ProtocolResult`, which gives
it the shared vocabulary (README, "Result fields"):

* ``status``: the outcome word of the protocol (``"key"`` / ``"aborted"`` for DI-QKD,
  ``"certified"`` / ``"not certified"`` / ``"aborted"`` for amplification);
* ``success``: ``True`` exactly when ``status`` is the protocol's success status (a key, or
  certified output bits);
* ``message``: why the run ended as it did (empty on success);
* ``adversary_model`` and ``theorem``: what the security statement assumes of the adversary and
  which theorem (with equation) it rests on; a result whose ``certificate`` names its own
  (attributes ``adversary_model``, ``theorem``) reports those;
* ``randomness``: ``"os"`` for the operating system's CSPRNG (or a bit file, whose bits are the
  user's claim) and ``"seeded (not secure)"`` for a seeded, reproducible stream;
* ``to_dict()``: strict JSON values (``json.dumps(..., allow_nan=False)`` accepts them):
  dataclasses are expanded by :func:`dataclasses.asdict`, numpy scalars and arrays become Python
  numbers and lists, and non-finite floats (``nan``, ``+-inf``) become ``None``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np

#: ``randomness`` of a result whose protocol randomness is the OS CSPRNG (or a bit file).
RANDOMNESS_OS = "os"
#: ``randomness`` of a result built from a seeded, reproducible stream.
RANDOMNESS_SEEDED = "seeded (not secure)"


def randomness_label(secure: bool) -> str:
    """The shared ``randomness`` value: :data:`RANDOMNESS_OS` or :data:`RANDOMNESS_SEEDED`."""
    return RANDOMNESS_OS if secure else RANDOMNESS_SEEDED


def to_json_value(value: Any) -> Any:
    """``value`` as strict JSON data: containers recursively, dataclasses through
    :func:`dataclasses.asdict`, numpy scalars/arrays as Python values, non-finite floats as
    ``None``. Anything else (``str``, ``int``, ``bool``, ``None``) is returned unchanged."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(key): to_json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(item) for item in value]
    if isinstance(value, np.ndarray):
        return to_json_value(value.tolist())
    if isinstance(value, np.generic):
        return to_json_value(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class ProtocolResult:
    """Mixin for frozen result dataclasses (see the module docstring).

    A subclass sets :attr:`SUCCESS_STATUS`, defines the fields ``status`` and ``reason`` and
    either a field ``randomness`` or a field ``secure`` (from which :attr:`randomness` is
    derived). :meth:`to_dict` serialises every dataclass field except :attr:`PRIVATE_FIELDS`
    (secrets such as keys), then :meth:`_json_fields` may reshape them, and the shared names
    are added last, so they are the same in every result.
    """

    SUCCESS_STATUS: ClassVar[str]
    #: The adversary of the security statement (default; a certificate may name its own).
    ADVERSARY_MODEL: ClassVar[str] = "no-signaling"
    #: The theorem (and equation) the security statement rests on.
    THEOREM: ClassVar[str] = ""
    #: Fields never written by :meth:`to_dict` (keys, output bits).
    PRIVATE_FIELDS: ClassVar[tuple[str, ...]] = ()

    @property
    def success(self) -> bool:
        """Whether the protocol produced its output (a key, or certified bits)."""
        return self.status == self.SUCCESS_STATUS  # type: ignore[attr-defined]

    @property
    def message(self) -> str:
        """Why the run ended as it did; empty on success."""
        return self.reason  # type: ignore[attr-defined]

    @property
    def randomness(self) -> str:
        """``"os"`` or ``"seeded (not secure)"`` (:func:`randomness_label`)."""
        return randomness_label(bool(self.secure))  # type: ignore[attr-defined]

    @property
    def adversary_model(self) -> str:
        """The adversary the security statement holds against (e.g. ``"no-signaling"``)."""
        return str(getattr(getattr(self, "certificate", None), "adversary_model", self.ADVERSARY_MODEL))

    @property
    def theorem(self) -> str:
        """The theorem and equation behind the security statement."""
        return str(getattr(getattr(self, "certificate", None), "theorem", self.THEOREM))

    def _json_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Hook: reshape the public fields for JSON (default: unchanged)."""
        return fields

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON dictionary of the result: public fields plus ``status``, ``success``,
        ``message``, ``randomness``, ``adversary_model`` and ``theorem``."""
        fields = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)  # type: ignore[arg-type]
                  if field.name not in self.PRIVATE_FIELDS}
        data = self._json_fields(fields)
        data.update(status=self.status, success=self.success,  # type: ignore[attr-defined]
                    message=self.message, randomness=self.randomness,
                    adversary_model=self.adversary_model, theorem=self.theorem)
        return to_json_value(data)


class KeyResult(ProtocolResult):
    """Shared names of the key-distribution results (the chained protocol, the CHSH protocol): a
    subclass has the fields ``key_length``, ``secure_randomness``, ``key_a`` and ``key_b`` (kept
    out of :meth:`to_dict`) and names its protocol in :attr:`PROTOCOL`."""

    SUCCESS_STATUS: ClassVar[str] = "key"
    PRIVATE_FIELDS: ClassVar[tuple[str, ...]] = ("key_a", "key_b")
    #: Fields known to Bob only and not covered by the certificate: do not publish them with the key.
    LOCAL_ONLY: ClassVar[tuple[str, ...]] = ("qber", "timings")
    #: ``"chained"`` (paper 000 Sec. III A) or ``"chsh"``.
    PROTOCOL: ClassVar[str]

    @property
    def secure(self) -> bool:
        """Whether the protocol randomness is the OS CSPRNG (same as ``secure_randomness``)."""
        return bool(self.secure_randomness)  # type: ignore[attr-defined]

    @property
    def output_bits(self) -> int:
        """The shared name of ``key_length`` (README, "Result fields")."""
        return int(self.key_length)  # type: ignore[attr-defined]

    def _json_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Adds ``protocol`` and ``local_only``."""
        return {**fields, "protocol": self.PROTOCOL, "local_only": list(self.LOCAL_ONLY)}


class AmplificationOutput(ProtocolResult):
    """Shared names of the randomness-amplification results (Protocols I and II): a subclass
    has the fields ``output`` (the bits, or ``None``) and ``eps`` (the SV bias)."""

    @property
    def output_bits(self) -> int:
        """Number of output bits (0 when nothing was certified)."""
        return 0 if self.output is None else int(self.output.size)  # type: ignore[attr-defined]

    @property
    def sv_eps(self) -> float:
        """The SV source's bias eps of paper 004 eq. (1)."""
        return self.eps  # type: ignore[attr-defined]
