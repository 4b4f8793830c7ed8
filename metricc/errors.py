"""The one error type and the one warning type that metricc raises for user mistakes."""

from __future__ import annotations


_WIDTH = 80


class MetriccError(ValueError):
    """A user error: a bad formula, argument or input, with the spot in the formula when known."""

    def __init__(self, message: str, *, text: str | None = None, line: int | None = None,
                 column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.text = text
        self.line = line
        self.column = column

    def __str__(self) -> str:
        if self.text is None or self.line is None or self.column is None:
            return self.message
        lines = self.text.split("\n")
        source_line = "".join(" " if not c.isprintable() else c for c in lines[min(self.line, len(lines)) - 1])
        where = f"line {self.line}, column {self.column}" if "\n" in self.text else f"column {self.column}"
        caret = self.column - 1
        if len(source_line) > _WIDTH:  # show a window around the spot
            start = max(0, min(caret - _WIDTH // 2, len(source_line) - _WIDTH))
            window = source_line[start:start + _WIDTH]
            prefix, suffix = ("..." if start else ""), ("..." if start + _WIDTH < len(source_line) else "")
            source_line, caret = prefix + window + suffix, caret - start + len(prefix)
        return f"{self.message} ({where})\n  {source_line}\n  {' ' * caret}^"

    def __reduce__(self):
        return _rebuild_error, (self.message, self.text, self.line, self.column)


def _rebuild_error(message, text, line, column):
    return MetriccError(message, text=text, line=line, column=column)


class MetriccWarning(UserWarning):
    """A setting that works but is probably not what the user wants (for example L outside its valid range)."""
