"""The bulk contact import: the file read in a second process, checked, written in bulk and
reported row by row (docs/import.md)."""
