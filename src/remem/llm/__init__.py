"""The LLM: an OpenAI-compatible chat completions client (``client``), whether the settings
configure one (``status``), and what remem does with or without it."""
