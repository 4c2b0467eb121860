"""pynetdicom's and pydicom's UID validators, with their verdicts kept.

An association request proposes up to a few hundred presentation contexts
(storescu and getscu propose every storage SOP class, each with its transfer
syntaxes): decoding and negotiating them checks each UID against a regular
expression several times, and they are the same few hundred UIDs every time.
"""

from __future__ import annotations

from typing import Any

_VALIDATION_CACHED = False


def cache_uid_validation() -> None:
    """Remember the verdicts of pydicom's and pynetdicom's UID validators
    (see the module docstring; about 15 ms of a retrieve client's association
    request here, about 4 ms of storescu's). Idempotent. Both validators are pure
    functions of the text (and of pynetdicom's ENFORCE_UID_CONFORMANCE
    switch, part of the key), so the verdicts are kept (4,096 of each); what
    is done with a verdict (warn, raise, ignore) is unchanged.
    """
    global _VALIDATION_CACHED
    if _VALIDATION_CACHED:
        return
    import functools

    from pydicom import valuerep
    from pynetdicom import _config

    pydicom_ui = valuerep.VALIDATORS["UI"]

    @functools.lru_cache(maxsize=4096)
    def pydicom_verdict(vr: str, value: str) -> tuple[bool, str]:
        return pydicom_ui(vr, value)

    def pydicom_cached(vr: str, value: Any) -> tuple[bool, str]:
        if isinstance(value, str):
            return pydicom_verdict(vr, str(value))
        return pydicom_ui(vr, value)

    pynetdicom_ui = _config.VALIDATORS["UI"]

    @functools.lru_cache(maxsize=4096)
    def pynetdicom_verdict(value: str, enforced: bool) -> tuple[bool, str]:
        return pynetdicom_ui(value)

    def pynetdicom_cached(value: Any) -> tuple[bool, str]:
        if isinstance(value, str):
            return pynetdicom_verdict(str(value), bool(_config.ENFORCE_UID_CONFORMANCE))
        return pynetdicom_ui(value)

    valuerep.VALIDATORS["UI"] = pydicom_cached
    _config.VALIDATORS["UI"] = pynetdicom_cached
    _VALIDATION_CACHED = True
