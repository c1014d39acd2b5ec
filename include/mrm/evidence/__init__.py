"""What auditors keep: write-once evidence files with their SHA-256 (writer.py), the lineage recorded
with each run (lineage.py), the history exported (export.py) and a model's evidence pack (pack.py)."""
