"""dcmtui.quicktoml reads the plain part of TOML exactly as tomllib does, and
refuses the rest (so that the quick echo never reads an address book
differently from NodeBook)."""

from __future__ import annotations

import tomllib

import pytest
import tomlkit

from dcmtui import quicktoml

PLAIN = [
    "",
    "# only a comment\n\n",
    '[PACS]\nae_title = "PACS1"\nhost = "10.0.0.5"\nport = 104\n',
    '[ local ]\r\nae_title="A"\r\nport=0\r\n',
    '["OTHER@127.0.0.1:104"]\nae_title = "X"\nnotes = "a # b = c, [d]"\n',
    '[a]\ntransfer_syntaxes = ["1.2.840.10008.1.2.1", "1.2"]\n[b]\nx = []\n',
    '[a]\ntransfer_syntaxes = [ "1.2" , ]\n\t# indented comment\n',
    '[""]\nk = "v"\n',
    '[a]\nname = "Ünïcödé ✓"\n[b-c_d]\nport = 65535\n',
]

NOT_PLAIN = [
    'top = "level"\n[a]\n',
    "[a]\nport = 104 # comment\n",
    "[a] # comment\n",
    '[a]\nhost = "h" # c\n',
    '[a]\nx = "esc\\"aped"\n',
    "[a]\nx = 'literal'\n",
    '[a]\nx = """multi"""\n',
    "[a]\nport = 0104\n",
    "[a]\nport = -1\n",
    "[a]\nport = +1\n",
    "[a]\nport = 1_000\n",
    "[a]\nport = 0x10\n",
    "[a]\nx = 1.5\n",
    "[a]\nx = true\n",
    "[a]\nx = 2024-01-01\n",
    "[a]\nx = { y = 1 }\n",
    '[a]\nx = ["a,b"]\n',
    '[a]\nx = [\n "a",\n]\n',
    '[a]\nx = [["a"]]\n',
    "[a.b]\nx = 1\n",
    '[a]\n"quoted key" = 1\n',
    "[a]\nb.c = 1\n",
    "[[a]]\nx = 1\n",
    "[a]\nx = 1\n[a]\ny = 2\n",
    "[a]\nx = 1\nx = 2\n",
    "[a]\nx =\n",
    "[a]\njust words\n",
    "\ufeff[a]\n",
    '[a]\nx = "ctrl\x01"\n',
    '[a]\nx = "tab\there"\n',  # valid TOML, refused all the same
    "[ ]\n",
    '["a"b"]\n',
]


@pytest.mark.parametrize("text", PLAIN)
def test_plain_reads_as_tomllib_reads(text: str) -> None:
    assert quicktoml.loads(text) == tomllib.loads(text)


@pytest.mark.parametrize("text", NOT_PLAIN)
def test_anything_else_is_left_to_tomllib(text: str) -> None:
    assert quicktoml.loads(text) is None


def test_what_the_address_book_writes_is_plain() -> None:
    """nodes.toml as NodeBook writes it (with tomlkit) reads the quick way."""
    book = {
        "PACS": {"ae_title": "PACS1", "host": "10.0.0.5", "port": 104},
        "OTHER@h:1": {
            "ae_title": "X",
            "host": "h",
            "port": 1,
            "calling_ae": "ME",
            "max_pdu": 32768,
            "transfer_syntaxes": ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"],
            "retrieve": "C-GET",
            "notes": "the second floor's CT",
        },
    }
    text = tomlkit.dumps(book)
    assert quicktoml.loads(text) == tomllib.loads(text) == book
