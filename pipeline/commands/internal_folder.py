"""Where `koord analyse` writes its files under OUT: the internal folder, which must not leave.

The results CSV files and the figures `koord analyse` writes (`pipeline.commands.results_store`) are working material before disclosure
control, so they go to ``OUT/internt/`` (`INTERNAL_DIR`, with `README_NAME` saying so in Swedish),
never beside ``OUT/report/``, the only folder meant to leave the secure environment once `koord
report` has disclosure-checked it. This module is kept free of heavy imports: the command line
builds its help texts from it.
"""

from __future__ import annotations

from pathlib import Path

INTERNAL_DIR = "internt"  # OUT/internt/: unchecked working material; must not leave the secure environment
RESULTS_DIR = "results"   # OUT/internt/results/<id>.csv
FIGURES_DIR = "figures"   # OUT/internt/figures/*.png
README_NAME = "LÄS_MIG.txt"
README_TEXT = """\
LÄS MIG – denna mapp får INTE lämna den säkra miljön

Mappen innehåller okontrollerat arbetsmaterial från `koord analyse`:
  results/  resultat (CSV) före röjandekontroll (utdatakontroll)
  figures/  figurer ritade från dessa resultat

Inget här har gått igenom röjandekontrollen; små och röjande celler kan förekomma.
Endast mappen report/, efter röjandekontroll med `koord report`, är avsedd att lämna
den säkra miljön. Filen report/utdatakontroll.html förtecknar vad den innehåller.
"""


def internal_dir(out: Path) -> Path:
    """``OUT/internt``: where `koord analyse` writes (results CSV files, figures, the bench's extra row)."""
    return Path(out) / INTERNAL_DIR


def write_internal_readme(out: Path) -> Path:
    """Create ``OUT/internt/`` if needed and write its ``LÄS_MIG.txt`` (UTF-8); return its path."""
    folder = internal_dir(out)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / README_NAME
    path.write_text(README_TEXT, encoding="utf-8")
    return path


__all__ = ["FIGURES_DIR", "INTERNAL_DIR", "README_NAME", "README_TEXT", "RESULTS_DIR", "internal_dir",
           "write_internal_readme"]
