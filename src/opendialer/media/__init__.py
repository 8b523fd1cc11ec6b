"""Audio of real calls that opendialer itself judges: answering-machine detection (``amd``) and
what ``bench/amd.py`` measured of it (``figures``)."""
