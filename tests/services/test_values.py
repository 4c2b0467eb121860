"""parse_value: VR and VM checks with the reason, and strict charset encoding."""

from __future__ import annotations

import pytest

from dcmtui.services.values import ValueRefused, check_vm, parse_value, validate


@pytest.mark.parametrize(
    ("vr", "text", "why"),
    [
        ("DA", "20240230", "not a date"),
        ("DA", "2024011", "YYYYMMDD"),
        ("DA", "2024-01-01", "8 characters"),
        ("TM", "2561", "hours"),
        ("TM", "12:00", "HHMMSS"),
        ("UI", "1.02.3", "leading zeros"),
        ("UI", "1." + "2" * 70, "64 characters"),
        ("DS", "abc", "decimal"),
        ("IS", "1.5", "integer"),
        ("IS", "99999999999", "between"),
        ("IS", "1234567890123", "12 characters"),
        ("AE", "A" * 17, "16 characters"),
        ("CS", "lower", "upper-case"),
        ("LO", "x" * 65, "64 characters"),
        ("PN", "A^B^C^D^E^F", "5 components"),
        ("PN", "A=B=C=D", "3 component groups"),
        ("US", "70000", "between"),
        ("SS", "x", "integer"),
        ("AS", "42Y", "nnnY"),
        ("LO", "a\nb", "line breaks"),
        ("OB", "00", "binary"),
        ("SQ", "", "items"),
    ],
)
def test_refused_with_reason(vr: str, text: str, why: str) -> None:
    assert why in validate(vr, text)
    with pytest.raises(ValueRefused, match=why):
        parse_value(vr, text)


@pytest.mark.parametrize(
    ("vr", "text", "raw"),
    [
        ("DA", "20240229", b"20240229"),
        ("TM", "235959.123456", b"235959.123456 "),
        ("UI", "1.2.3", b"1.2.3\x00"),
        ("DS", "-1.5e3", b"-1.5e3"),
        ("IS", "42", b"42"),
        ("US", "1\\2", b"\x01\x00\x02\x00"),
        ("FD", "1.5", b"\x00\x00\x00\x00\x00\x00\xf8?"),
        ("AT", "(0010,0020)", b"\x10\x00\x20\x00"),
        ("PN", "DOE^JOHN", b"DOE^JOHN"),
        ("CS", "ORIGINAL\\PRIMARY", b"ORIGINAL\\PRIMARY"),
    ],
)
def test_accepted_and_encoded(vr: str, text: str, raw: bytes) -> None:
    assert parse_value(vr, text) == raw


def test_vm_and_charset() -> None:
    assert check_vm("1", 2) == "VM is 1: 2 values given"
    assert check_vm("2-2n", 3) and not check_vm("2-2n", 4)
    assert not check_vm("1-n", 7) and check_vm("3", 2)
    with pytest.raises(ValueRefused, match="VM is 1"):
        parse_value("LO", "a\\b", vm="1")
    with pytest.raises(ValueRefused, match="character set"):
        parse_value("PN", "王^小明", encodings=["latin_1"])
    assert parse_value("PN", "Müller", encodings=["latin_1"]) == "Müller".encode(
        "latin-1"
    )
    with pytest.raises(ValueRefused, match="ASCII"):
        parse_value("AE", "É")
    utf8 = parse_value("LO", "王小明", encodings=["utf_8"])
    assert utf8 == "王小明".encode() + (b" " if len("王小明".encode()) % 2 else b"")
