#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""`python -m gnuradio.amc.cli ...`: the same as the installed `gr-amc` command."""
import sys

from gnuradio.amc.cli import main

if __name__ == "__main__":
    sys.exit(main())
