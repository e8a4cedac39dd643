"""Parsers: one module per input format; each has parse(text) -> Parsed."""
