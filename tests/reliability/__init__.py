"""The reliability suite (issue 7): crash loops, corruption, disk full, load, fuzzing, hardening.

Every module is marked ``reliability``. The short version runs by default (CI, ``make test``);
``OMNIVEC_RELIABILITY=long`` switches every bound to the long version, whose figures
``scripts/reliability_report.py`` collects into the README's Reliability table.
"""
