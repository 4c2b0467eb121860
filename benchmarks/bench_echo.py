"""Echo benchmark: ``dcmtui echo`` against DCMTK's ``echoscu``, side by side.

Both C-ECHO one DCMTK ``storescp`` (``TCP_NODELAY=1`` for DCMTK). Figures,
medians of ``--reps`` alternated runs:

- whole process: ``echoscu`` vs ``python -m dcmtui echo AET@host:port`` (the
  quick path: a plain socket, no settings, no DICOM library) and vs
  ``dcmtui echo NAME`` of an address-book node (the general path: settings,
  address book, ``Scu``); both pay the Python interpreter's start-up, printed
  beside (``python -c pass``): a development install's differs from a clean
  venv's, so give that venv's interpreter with ``--python`` to measure it;
- in process: dcmtui's association + C-ECHO + release (``Scu.echo_sync``),
  and the C-ECHO request/response alone, against echoscu's whole process
  (echoscu has no way to time the echo alone).

Usage: ``python benchmarks/bench_echo.py [--reps 30] [--python PYTHON]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_send import _dcmtk, _free_port, dcmtui_argv, interpreter_floor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument(
        "--python", default=sys.executable, help="the interpreter to run dcmtui with"
    )
    args = parser.parse_args(argv)
    from dcmtui.services.nodes import parse_address
    from dcmtui.services.scu import Scu

    port = _free_port()
    env = {**os.environ, "TCP_NODELAY": "1"}
    home = Path(tempfile.mkdtemp(prefix="bench-echo-"))
    denv = {
        **env,
        **{f"DCMTUI_{k}_DIR": str(home / k) for k in ("CONFIG", "DATA", "LOG")},
    }
    scp = subprocess.Popen(
        [_dcmtk("storescp"), "-aet", "STORESCP", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    node = parse_address(f"STORESCP@127.0.0.1:{port}")
    scu = Scu()
    dcmtui = dcmtui_argv(args.python)
    times: dict[str, list[float]] = {
        k: [] for k in ("echoscu", "dcmtui", "dcmtui_name", "assoc", "echo")
    }
    try:
        time.sleep(0.5)
        scu.echo_sync(node)
        named = home / "named"  # an address book, for the general path
        named_env = {**denv, "DCMTUI_CONFIG_DIR": str(named)}
        subprocess.run(
            [*dcmtui, "nodes", "add", "SCP", node.address],
            env=named_env,
            check=True,
            capture_output=True,
        )
        for _ in range(args.reps):
            t0 = time.perf_counter()
            subprocess.run(
                [_dcmtk("echoscu"), "-aec", "STORESCP", "127.0.0.1", str(port)],
                env=env,
                check=True,
            )
            times["echoscu"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run(
                [*dcmtui, "echo", node.address],
                env=denv,
                check=True,
                capture_output=True,
            )
            times["dcmtui"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run(
                [*dcmtui, "echo", "SCP"],
                env=named_env,
                check=True,
                capture_output=True,
            )
            times["dcmtui_name"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            result = scu.echo_sync(node)
            times["assoc"].append(time.perf_counter() - t0)
            assert result.ok, result.detail
            times["echo"].append(result.ms / 1000)
    finally:
        os.killpg(scp.pid, signal.SIGTERM)
        scp.wait(5)
        shutil.rmtree(home, ignore_errors=True)
    ms = {k: statistics.median(v) * 1000 for k, v in times.items()}
    floor = interpreter_floor(args.python)
    print(
        f"interpreter {args.python}: "
        + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in floor.items())
        + f"; dcmtui run as {' '.join(dcmtui)}"
    )
    print(f"echoscu whole process            {ms['echoscu']:7.2f} ms")
    print(
        f"dcmtui echo AET@host:port        {ms['dcmtui']:7.2f} ms "
        f"({ms['dcmtui'] / ms['echoscu']:.2f}x echoscu; target <= 1.5x)"
    )
    print(
        f"dcmtui echo NAME (address book)  {ms['dcmtui_name']:7.2f} ms "
        f"({ms['dcmtui_name'] / ms['echoscu']:.2f}x echoscu)"
    )
    print(
        f"dcmtui association+echo+release  {ms['assoc']:7.2f} ms "
        f"({ms['assoc'] / ms['echoscu']:.2f}x echoscu's whole process)"
    )
    print(f"dcmtui C-ECHO round trip alone   {ms['echo']:7.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
