"""What ``bench/amd.py`` measured of the answering-machine detector (tables in
docs/telephony.md), for the settings that start from it. Measure again when the classifier
changes."""

FALSE_POSITIVE_RATE = 0.008
"""People judged machines, on the 240 greetings of the voices held out of the tuning: every
AMD campaign's ``amd_false_positive_rate`` unless it sets its own reasoned estimate (Ofcom)."""
MEAN_DECISION_MS = 2466
"""From the answer to the verdict, on the same greetings (p95: 3,443 ms)."""
