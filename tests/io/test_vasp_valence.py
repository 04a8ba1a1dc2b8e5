"""ZVAL from POTCAR / OUTCAR headers."""

from __future__ import annotations

import gzip

import pytest

from rhograph.errors import DensityFileError
from rhograph.io.vasp_valence import find_valence_file, read_zval

OUTCAR = """ vasp.6.4.2 18Apr23 (build Jun 20 2023) complex
 POTCAR:    PAW_PBE Li_sv 10Sep2004
 POTCAR:    PAW_PBE Co 02Aug2007
 POTCAR:    PAW_PBE O 08Apr2002
   VRHFIN =Li: 1s2s2p
   TITEL  = PAW_PBE Li_sv 10Sep2004
   POMASS =    7.010; ZVAL   =    3.000    mass and valenz
   TITEL  = PAW_PBE Co 02Aug2007
   POMASS =   58.933; ZVAL   =    9.000    mass and valenz
   TITEL  = PAW_PBE O 08Apr2002
   POMASS =   16.000; ZVAL   =    6.000    mass and valenz
  Ionic Valenz
  ZVAL   =   3.00   9.00   6.00
"""


def test_outcar_and_compressed_potcar(tmp_path):
    (tmp_path / "OUTCAR").write_text(OUTCAR)
    assert read_zval(tmp_path / "OUTCAR") == {"Li": 3.0, "Co": 9.0, "O": 6.0}
    assert find_valence_file(tmp_path / "CHGCAR") == tmp_path / "OUTCAR"
    with gzip.open(tmp_path / "POTCAR.gz", "wt") as fh:
        fh.write("   TITEL  = PAW_PBE Mn_pv 02Aug2007\n   POMASS =   54.938; ZVAL   =   13.000    mass and valenz\n")
    assert find_valence_file(tmp_path / "CHGCAR") == tmp_path / "POTCAR.gz"  # POTCAR first
    assert read_zval(tmp_path / "POTCAR.gz") == {"Mn": 13.0}
    assert find_valence_file(tmp_path / "sub" / "CHGCAR") is None


def test_bad_and_ambiguous_files(tmp_path):
    (tmp_path / "POTCAR").write_text("nothing here\n")
    with pytest.raises(DensityFileError, match="no PAW data set"):
        read_zval(tmp_path / "POTCAR")
    (tmp_path / "POTCAR").write_text(
        "   TITEL  = PAW_PBE O 08Apr2002\n   POMASS =   16.000; ZVAL   =    6.000\n"
        "   TITEL  = PAW_PBE O_s 07Sep2000\n   POMASS =   16.000; ZVAL   =    5.000\n"
    )
    with pytest.raises(DensityFileError, match="two data sets of O"):
        read_zval(tmp_path / "POTCAR")
