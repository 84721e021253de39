"""The offline AI provider ("local"), one module per concern.

- ``cleaning``: caption noise, credit lines and foreign ``[VISUAL::`` markers out;
- ``markup`` and ``blocks``: Markdown, reStructuredText, code and plain text to blocks;
- ``resources``: each language's stop words, frequencies, stems, definition words, quiz words;
- ``sentences``: sentence splitting (pysbd, in bounded pieces);
- ``document``: blocks and their sentences;
- ``terms`` and ``definitions``: key terms and the sentences that define them;
- ``summary`` and ``sections``: condensed sections, headings, title;
- ``visuals``: the note's own placeholders;
- ``lesson``, ``study``, ``quiz``, ``flashcards``: the three calls;
- ``provider``: ``LocalAIProvider``.
"""

from .provider import NAME, LocalAIProvider

__all__ = ["NAME", "LocalAIProvider"]
