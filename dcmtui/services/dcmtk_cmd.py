"""The DCMTK command line equivalent to what dcmtui does, for users who
want to reproduce an operation with DCMTK's own tools."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from dcmtui.models import Node


def _common(node: Node, calling_ae: str) -> list[str]:
    args = ["-aet", calling_ae, "-aec", node.ae_title]
    if node.tls:
        if node.tls_cert:
            args += ["+tls", node.tls_key, node.tls_cert]
        else:
            args.append("+tla")
        args += ["+cf", node.tls_ca] if node.tls_ca else ["-ic"]
    if node.max_pdu:
        args += ["-pdu", str(node.max_pdu)]
    return args


def _join(program: str, args: Sequence[str], node: Node) -> str:
    return shlex.join([program, *args, node.host, str(node.port)])


def echoscu(node: Node, calling_ae: str) -> str:
    """``echoscu`` for a C-ECHO."""
    return _join("echoscu", _common(node, calling_ae), node)


def storescu(node: Node, calling_ae: str, paths: Sequence[str], recurse: bool) -> str:
    """``storescu`` for a send."""
    args = _common(node, calling_ae)
    if recurse:
        args += ["+sd", "+r"]
    return shlex.join(["storescu", *args, node.host, str(node.port), *paths])


def _keys(level: str, keys: Sequence[tuple[str, str]]) -> list[str]:
    out = ["-k", f"QueryRetrieveLevel={level}"]
    for key, value in keys:
        out += ["-k", f"{key}={value}" if value else key]
    return out


def _model(root: str) -> str:
    return {"patient": "-P", "study": "-S", "worklist": "-W"}.get(root, "-S")


def findscu(
    node: Node, calling_ae: str, root: str, level: str, keys: Sequence[tuple[str, str]]
) -> str:
    """``findscu`` for a C-FIND."""
    args = [*_common(node, calling_ae), _model(root)]
    if root != "worklist":
        args += _keys(level, keys)
    else:
        from dcmtui.services.scu_qr import SPS_KEYS

        for key, value in keys:
            if key in SPS_KEYS:
                key = f"ScheduledProcedureStepSequence[0].{key}"
            args += ["-k", f"{key}={value}" if value else key]
    return _join("findscu", args, node)


def movescu(
    node: Node,
    calling_ae: str,
    root: str,
    level: str,
    keys: Sequence[tuple[str, str]],
    destination: str,
) -> str:
    """``movescu`` for a C-MOVE."""
    args = [*_common(node, calling_ae), _model(root), "-aem", destination]
    return _join("movescu", [*args, *_keys(level, keys)], node)


def getscu(
    node: Node,
    calling_ae: str,
    root: str,
    level: str,
    keys: Sequence[tuple[str, str]],
    output: str,
) -> str:
    """``getscu`` for a C-GET."""
    args = [*_common(node, calling_ae), _model(root), "-od", output]
    return _join("getscu", [*args, *_keys(level, keys)], node)
