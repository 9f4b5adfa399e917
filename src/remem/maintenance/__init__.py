"""Operations over a whole store, run from the CLI (``remem migrate``, ``remem reindex``).

They sit above ``runtime`` and the memory layer, whose rules they apply to every document;
``store`` stays below them and knows nothing of either.
"""
