"""``python -m pyg_sgg.data.synthvg``: see :mod:`pyg_sgg.data.synthvg.cli`."""
from .cli import main

main()
