"""Reading the PDFs the app makes, with pypdf: the text they show and the fonts they embed."""

from __future__ import annotations

from io import BytesIO

from pypdf import PdfReader
from pypdf.generic import DictionaryObject


def pdf_text(data: bytes) -> str:
    """The text of every page (through the fonts' ToUnicode maps), whitespace collapsed."""
    reader = PdfReader(BytesIO(data))
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


def fonts(data: bytes) -> list[dict]:
    """Every font the pages use: its name, subtype, and whether its file is embedded
    (``/FontFile2``: TrueType, ``/FontFile3``: CFF, ``/FontFile``: Type 1)."""
    reader = PdfReader(BytesIO(data))
    found: dict[str, dict] = {}
    for page in reader.pages:
        resources = page.get("/Resources") or {}
        for font in (resources.get_object().get("/Font") or {}).values():
            font = font.get_object()
            descriptor = _descriptor(font)
            embedded = descriptor is not None and any(
                key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")
            )
            found[str(font.get("/BaseFont"))] = {
                "name": str(font.get("/BaseFont")),
                "subtype": str(font.get("/Subtype")),
                "embedded": embedded,
                "truetype_file": descriptor is not None and "/FontFile2" in descriptor,
            }
    return list(found.values())


def _descriptor(font: DictionaryObject) -> DictionaryObject | None:
    if "/FontDescriptor" in font:
        return font["/FontDescriptor"].get_object()
    for descendant in font.get("/DescendantFonts") or []:
        descendant = descendant.get_object()
        if "/FontDescriptor" in descendant:
            return descendant["/FontDescriptor"].get_object()
    return None
