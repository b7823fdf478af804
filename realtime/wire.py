"""Room frames as the bytes a server writes on the wire, built once per broadcast.

A server's text frame is not masked and room sockets negotiate no extension (compression is
off), so the same bytes are valid on every socket of a room; building them once and writing
them to each transport is the fan-out floor measured in the brief (section 4).
"""

from websockets.frames import Frame, Opcode


def text_frame(text: str) -> bytes:
    """One unmasked, final WebSocket text frame carrying ``text``."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)
