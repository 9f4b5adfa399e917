"""Background work on pydocket, over the same Redis: the queue (``queue``), the task functions
(``jobs``) and the worker that runs them in-process or as ``remem worker`` (``worker``)."""
