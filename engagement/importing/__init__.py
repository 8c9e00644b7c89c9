"""Reading other systems' comment exports (and engagement's own) into plain records.

Each format module turns a file into a stream of ``records.ImportedThread`` and
``records.ImportedComment``; ``services.importing`` writes them. Nothing here touches
the database.
"""
