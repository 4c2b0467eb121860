"""The async service layer over pydicom and pynetdicom.

Nothing in this package imports textual or rich (tests/test_layers.py checks it).
Modules import lazily what is expensive, so that ``dcmtui --version`` stays quick.
"""
