"""C-FIND matching over the store index: one test per PS3.4 C.2.2.2 rule."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dcmtui.services.fastread import read_record
from dcmtui.services.files import Index
from dcmtui.services.qr_match import (
    DateTimeRange,
    QueryError,
    StoreQuery,
    value_matches,
)
from tests.factories import write_dicom


def index_folder(db: Path, folder: Path) -> None:
    """Put every file under ``folder`` into the index at ``db``."""
    records = []
    for path in sorted(folder.rglob("*.dcm")):
        st = path.stat()
        records.append(read_record(str(path), st.st_size, st.st_mtime_ns))
    Index(db).upsert(records)


def code_item(value: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "DCM"
    return item


@pytest.fixture
def store(tmp_path: Path) -> StoreQuery:
    root = tmp_path / "store"
    # Patient 1: two studies; patient 2: one study with two series.
    common: dict[str, Any] = {"pixels": False}
    write_dicom(
        root / "a1.dcm",
        uid_seed="a1",
        PatientName="DOE^JOHN",
        PatientID="PID1",
        PatientSex="M",
        StudyInstanceUID="1.2.3.1",
        SeriesInstanceUID="1.2.3.1.1",
        StudyDate="20240102",
        StudyTime="101500",
        Modality="CT",
        ProcedureCodeSequence=Sequence([code_item("CT-HEAD")]),
        **common,
    )
    write_dicom(
        root / "a2.dcm",
        uid_seed="a2",
        PatientName="DOE^JOHN",
        PatientID="PID1",
        PatientSex="M",
        StudyInstanceUID="1.2.3.1",
        SeriesInstanceUID="1.2.3.1.1",
        InstanceNumber=2,
        StudyDate="20240102",
        StudyTime="101500",
        Modality="CT",
        ProcedureCodeSequence=Sequence([code_item("CT-HEAD")]),
        **common,
    )
    write_dicom(
        root / "b1.dcm",
        uid_seed="b1",
        PatientName="DOE^JOHN",
        PatientID="PID1",
        PatientSex="M",
        StudyInstanceUID="1.2.3.2",
        SeriesInstanceUID="1.2.3.2.1",
        StudyDate="20230615",
        StudyTime="083000",
        Modality="MR",
        ProcedureCodeSequence=Sequence([code_item("MR-KNEE")]),
        **common,
    )
    write_dicom(
        root / "c1.dcm",
        uid_seed="c1",
        PatientName="ROE^JANE",
        PatientID="PID2",
        PatientSex="F",
        StudyInstanceUID="1.2.3.3",
        SeriesInstanceUID="1.2.3.3.1",
        StudyDate="20250301",
        StudyTime="235959",
        Modality="CT",
        AccessionNumber="X[1]",
        **common,
    )
    write_dicom(
        root / "c2.dcm",
        uid_seed="c2",
        PatientName="ROE^JANE",
        PatientID="PID2",
        PatientSex="F",
        StudyInstanceUID="1.2.3.3",
        SeriesInstanceUID="1.2.3.3.2",
        StudyDate="20250301",
        StudyTime="235959",
        Modality="SR",
        AccessionNumber="X[1]",
        **common,
    )
    # A file outside the store, in the same index: never answered.
    write_dicom(tmp_path / "elsewhere" / "z.dcm", uid_seed="z", pixels=False)
    db = tmp_path / "index.sqlite"
    index_folder(db, root)
    index_folder(db, tmp_path / "elsewhere")
    return StoreQuery(db, root, "DCMTUI")


def query(level: str, **keys: Any) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


def studies(store: StoreQuery, model: str = "study", **keys: Any) -> list[str]:
    keys.setdefault("StudyInstanceUID", "")
    return sorted(
        str(r.StudyInstanceUID) for r in store.find(query("STUDY", **keys), model)
    )


def test_universal_matching_returns_every_entity_with_its_values(
    store: StoreQuery,
) -> None:
    found = list(
        store.find(query("STUDY", StudyInstanceUID="", PatientName=""), "study")
    )
    assert sorted(str(r.StudyInstanceUID) for r in found) == [
        "1.2.3.1",
        "1.2.3.2",
        "1.2.3.3",
    ]
    names = {str(r.StudyInstanceUID): str(r.PatientName) for r in found}
    assert names["1.2.3.3"] == "ROE^JANE"
    assert all(r.QueryRetrieveLevel == "STUDY" for r in found)


def test_single_value_matching(store: StoreQuery) -> None:
    assert studies(store, PatientID="PID2") == ["1.2.3.3"]
    assert studies(store, PatientID="PID") == []  # not a prefix match
    assert studies(store, StudyDate="20230615") == ["1.2.3.2"]


def test_person_name_matching_ignores_case(store: StoreQuery) -> None:
    assert studies(store, PatientName="roe^jane") == ["1.2.3.3"]


def test_wildcard_star(store: StoreQuery) -> None:
    assert studies(store, PatientName="DOE*") == ["1.2.3.1", "1.2.3.2"]
    assert studies(store, PatientName="*") == ["1.2.3.1", "1.2.3.2", "1.2.3.3"]


def test_wildcard_question_mark(store: StoreQuery) -> None:
    assert studies(store, PatientName="?OE^JANE") == ["1.2.3.3"]
    assert studies(store, PatientID="PID?") == ["1.2.3.1", "1.2.3.2", "1.2.3.3"]
    assert studies(store, PatientID="PI?") == []


def test_wildcard_brackets_are_literal(store: StoreQuery) -> None:
    assert studies(store, AccessionNumber="X[1]") == ["1.2.3.3"]
    assert studies(store, AccessionNumber="X[*") == ["1.2.3.3"]
    assert studies(store, AccessionNumber="X[2]") == []


def test_date_range(store: StoreQuery) -> None:
    assert studies(store, StudyDate="20240101-20241231") == ["1.2.3.1"]
    assert studies(store, StudyDate="-20240102") == ["1.2.3.1", "1.2.3.2"]
    assert studies(store, StudyDate="20240103-") == ["1.2.3.3"]


def test_time_range(store: StoreQuery) -> None:
    assert studies(store, StudyTime="0800-0900") == ["1.2.3.2"]
    assert studies(store, StudyTime="2359-") == ["1.2.3.3"]
    # An upper bound of 10 (hours) includes 10:15:00.
    assert studies(store, StudyTime="-10") == ["1.2.3.1", "1.2.3.2"]


def test_uid_list(store: StoreQuery) -> None:
    assert studies(store, StudyInstanceUID="1.2.3.1\\1.2.3.3\\9.9") == [
        "1.2.3.1",
        "1.2.3.3",
    ]


def test_sequence_matching(store: StoreQuery) -> None:
    wanted = Sequence([Dataset()])
    wanted[0].CodeValue = "MR-KNEE"
    assert studies(store, ProcedureCodeSequence=wanted) == ["1.2.3.2"]
    anything = Sequence([Dataset()])
    anything[0].CodeValue = ""
    found = list(
        store.find(
            query("STUDY", StudyInstanceUID="1.2.3.1", ProcedureCodeSequence=anything),
            "study",
        )
    )
    assert found[0].ProcedureCodeSequence[0].CodeValue == "CT-HEAD"


def test_keys_not_in_the_index_come_from_the_files(store: StoreQuery) -> None:
    assert studies(store, PatientSex="F") == ["1.2.3.3"]
    found = list(
        store.find(query("STUDY", StudyInstanceUID="1.2.3.1", PatientSex=""), "study")
    )
    assert found[0].PatientSex == "M"


def test_computed_study_keys(store: StoreQuery) -> None:
    (found,) = store.find(
        query(
            "STUDY",
            StudyInstanceUID="1.2.3.3",
            ModalitiesInStudy="",
            NumberOfStudyRelatedSeries="",
            NumberOfStudyRelatedInstances="",
        ),
        "study",
    )
    assert list(found.ModalitiesInStudy) == ["CT", "SR"]
    assert int(found.NumberOfStudyRelatedSeries) == 2
    assert int(found.NumberOfStudyRelatedInstances) == 2
    assert studies(store, ModalitiesInStudy="MR\\XA") == ["1.2.3.2"]


def test_patient_root_levels(store: StoreQuery) -> None:
    patients = list(
        store.find(query("PATIENT", PatientID="", PatientName=""), "patient")
    )
    assert sorted(str(p.PatientID) for p in patients) == ["PID1", "PID2"]
    series = list(
        store.find(
            query(
                "SERIES", StudyInstanceUID="1.2.3.3", SeriesInstanceUID="", Modality=""
            ),
            "patient",
        )
    )
    assert sorted(str(s.Modality) for s in series) == ["CT", "SR"]
    images = list(
        store.find(
            query("IMAGE", SeriesInstanceUID="1.2.3.1.1", SOPInstanceUID=""), "patient"
        )
    )
    assert len(images) == 2


def test_study_root_has_no_patient_level(store: StoreQuery) -> None:
    with pytest.raises(QueryError):
        list(store.find(query("PATIENT", PatientID=""), "study"))


def test_cancel_stops_the_answers(store: StoreQuery) -> None:
    assert (
        list(store.find(query("STUDY", StudyInstanceUID=""), "study", lambda: True))
        == []
    )


def test_instances_for_retrieve(store: StoreQuery) -> None:
    found = store.instances(
        query("STUDY", StudyInstanceUID="1.2.3.1\\1.2.3.3"), "study"
    )
    assert len(found) == 4
    assert all(i.path.startswith(str(store.store_root)) for i in found)
    with pytest.raises(QueryError):
        store.instances(query("SERIES", SeriesInstanceUID=""), "study")


@pytest.mark.parametrize(
    ("vr", "pattern", "value", "expected"),
    [
        ("PN", "doe^j*", "DOE^JOHN", True),
        ("LO", "a?c", "abc", True),
        ("LO", "a?c", "abbc", False),
        ("DA", "20200101-20200131", "20200115", True),
        ("DA", "20200101-20200131", "", False),
        ("TM", "1000-1030", "103059", True),
        ("TM", "1000-1030", "103100", False),
        ("UI", "1.2\\1.3", "1.3", True),
        ("CS", "", "", True),
        ("IS", "3", "3", True),
    ],
)
def test_value_matches(vr: str, pattern: str, value: str, expected: bool) -> None:
    assert value_matches(vr, pattern, value) is expected


def test_new_objects_are_found_at_once(store: StoreQuery) -> None:
    """PATIENT/STUDY answers are cached; any change to the index shows."""
    assert len(studies(store)) == 3
    write_dicom(
        store.store_root / "new.dcm",
        pixels=False,
        PatientName="NEW^ONE",
        StudyInstanceUID="1.2.3.9",
    )
    index_folder(store.index_path, store.store_root)
    assert studies(store, PatientName="NEW*") == ["1.2.3.9"]
    assert len(studies(store)) == 4


@pytest.mark.parametrize("implicit", [True, False])
@pytest.mark.parametrize(
    ("level", "model", "keys"),
    [
        (
            "STUDY",
            "study",
            {
                "PatientName": "*O*",
                "PatientID": "",
                "StudyInstanceUID": "",
                "StudyDate": "",
                "ModalitiesInStudy": "",
                "NumberOfStudyRelatedInstances": "",
                "SeriesInstanceUID": "",  # a deeper level's key: empty
                "RetrieveAETitle": "",
            },
        ),
        ("PATIENT", "patient", {"PatientID": "PID?", "PatientName": ""}),
        (
            "SERIES",
            "study",
            {"StudyInstanceUID": "1.2.3.3", "Modality": "", "SeriesNumber": ""},
        ),
        (
            "IMAGE",
            "patient",
            {
                "PatientID": "PID1",
                "StudyInstanceUID": "1.2.3.1",
                "SOPInstanceUID": "",
                "InstanceNumber": "",
            },
        ),
    ],
)
def test_encoded_answers_equal_the_datasets(
    store: StoreQuery, implicit: bool, level: str, model: str, keys: dict[str, str]
) -> None:
    """The C-FIND fast path (bytes written without pydicom) answers exactly
    what the Dataset path does."""
    from pydicom.filereader import read_dataset

    identifier = query(level, **keys)
    encoded = store.find_encoded(identifier, model, implicit)
    assert encoded is not None
    got = [read_dataset(BytesIO(data), implicit, True) for data in encoded]
    wanted = list(store.find(identifier, model))
    assert len(got) == len(wanted) > 0
    for a, b in zip(got, wanted, strict=True):
        assert [e.tag for e in a] == [e.tag for e in b]
        for elem in b:
            assert _norm(a[elem.tag].value) == _norm(elem.value), elem.keyword


def _norm(value: Any) -> str:
    return "" if value is None else str(value)


def test_encoded_answers_mark_non_ascii_values_utf8(tmp_path: Path) -> None:
    root = tmp_path / "store"
    write_dicom(
        root / "x.dcm",
        pixels=False,
        SpecificCharacterSet="ISO_IR 192",
        PatientName="MÜLLER^JÖRG",
        StudyInstanceUID="1.2.3.7",
    )
    index_folder(tmp_path / "i.sqlite", root)
    store = StoreQuery(tmp_path / "i.sqlite", root)
    encoded = store.find_encoded(query("STUDY", PatientName="M*"), "study", False)
    assert encoded is not None
    (data,) = list(encoded)
    from pydicom.filereader import read_dataset

    found = read_dataset(BytesIO(data), False, True)
    assert found.SpecificCharacterSet == "ISO_IR 192"
    found.decode()
    assert str(found.PatientName) == "MÜLLER^JÖRG"


def test_keys_only_the_files_hold_take_the_dataset_path(store: StoreQuery) -> None:
    identifier = query("STUDY", PatientSex="F", StudyInstanceUID="")
    assert store.find_encoded(identifier, "study", True) is None


def dated(store: StoreQuery, level: str, combined: bool, **keys: Any) -> list[str]:
    """Study UIDs found (by find and by find_encoded, which must agree)."""
    keys.setdefault("StudyInstanceUID", "")
    identifier = query(level, **keys)
    found = sorted(
        {
            str(r.StudyInstanceUID)
            for r in store.find(identifier, "study", combined_datetime=combined)
        }
    )
    encoded = store.find_encoded(identifier, "study", True, combined_datetime=combined)
    assert encoded is not None
    from pydicom.filereader import read_dataset

    again = sorted(
        {str(read_dataset(BytesIO(d), True, True).StudyInstanceUID) for d in encoded}
    )
    assert again == found
    return found


@pytest.mark.parametrize("level", ["STUDY", "SERIES"])
def test_combined_datetime_matching(store: StoreQuery, level: str) -> None:
    """PS3.4 C.2.2.2.5: negotiated, a date range and a time range on
    StudyDate/StudyTime are one range from (first date, first time) to (last
    date, last time); otherwise each is matched on its own."""
    keys = {"StudyDate": "20230101-20240102", "StudyTime": "0900-0900"}
    # 1.2.3.2 is 2023-06-15 08:30: its time is not within 09:00-09:00, but the
    # moment is within 2023-01-01 09:00 .. 2024-01-02 09:00.
    assert dated(store, level, False, **keys) == []
    assert dated(store, level, True, **keys) == ["1.2.3.2"]
    keys = {"StudyDate": "20240101-20240102", "StudyTime": "1200-2359"}
    assert dated(store, level, False, **keys) == []  # 10:15 is not 12:00-23:59
    assert dated(store, level, True, **keys) == ["1.2.3.1"]  # 2024-01-02 10:15
    # Open ends, and the range's last minute included.
    keys = {"StudyDate": "20240102-", "StudyTime": "1016-"}
    assert dated(store, level, True, **keys) == ["1.2.3.3"]
    keys = {"StudyDate": "-20250301", "StudyTime": "-2359"}
    assert dated(store, level, True, **keys) == ["1.2.3.1", "1.2.3.2", "1.2.3.3"]
    # Only one of the pair is a range: matched separately even if negotiated.
    keys = {"StudyDate": "20240102", "StudyTime": "1200-"}
    assert dated(store, level, True, **keys) == []


def test_combined_datetime_on_keys_from_the_files(tmp_path: Path) -> None:
    """A night shift, 22:00 to 02:00 across midnight, on SeriesDate/Time
    (read from the files): only a combined range can express it."""
    root = tmp_path / "store"
    for name, day, clock in (
        ("s1", "20240101", "230000"),
        ("s2", "20240102", "013000"),
        ("s3", "20240102", "030000"),
    ):
        write_dicom(
            root / f"{name}.dcm",
            pixels=False,
            StudyInstanceUID="1.2.3.50",
            SeriesInstanceUID=f"1.2.3.50.{name[1]}",
            SeriesDate=day,
            SeriesTime=clock,
        )
    index_folder(tmp_path / "i.sqlite", root)
    store = StoreQuery(tmp_path / "i.sqlite", root)
    identifier = query(
        "SERIES",
        StudyInstanceUID="1.2.3.50",
        SeriesInstanceUID="",
        SeriesDate="20240101-20240102",
        SeriesTime="2200-0200",
    )
    assert store.find_encoded(identifier, "study", True, combined_datetime=True) is None
    night = [
        str(r.SeriesInstanceUID)
        for r in store.find(identifier, "study", combined_datetime=True)
    ]
    assert sorted(night) == ["1.2.3.50.1", "1.2.3.50.2"]
    assert list(store.find(identifier, "study")) == []


@pytest.mark.parametrize(
    ("dates", "times", "date", "time", "expected"),
    [
        ("20240101-20240102", "2200-0200", "20240101", "223000", True),
        ("20240101-20240102", "2200-0200", "20240101", "213000", False),
        ("20240101-20240102", "2200-0200", "20240102", "020059", True),  # 02 = 02:00:59
        ("20240101-20240102", "2200-0200", "20240102", "020100", False),
        ("20240101-", "2200-", "20250101", "000000", True),
        ("-20240101", "-2200", "20240101", "", True),  # a day without a time
        ("20240101-20240101", "1000-1100", "20240101", "", True),
        ("20240101-20240102", "2200-0200", "", "223000", False),
    ],
)
def test_date_time_range(
    dates: str, times: str, date: str, time: str, expected: bool
) -> None:
    assert (
        DateTimeRange("StudyDate", "StudyTime", dates, times).matches(date, time)
        is expected
    )
