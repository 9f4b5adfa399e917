"""Operations on one tenant's data, from the CLI and the REST API alike: erase a user or a
namespace everywhere (``erase``), export it as JSON Lines (``export``) and import such a file
(``transfer``). They sit above ``runtime`` and apply the memory layer's rules to every record.
"""
