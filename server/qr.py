"""QR codes as SVG: a pure function from text to bytes, for calendar links (and tickets later)."""

from __future__ import annotations


def qr_svg(text: str) -> str:
    """An SVG QR code with error correction M and the standard 4-module quiet zone."""
    import qrcode
    import qrcode.image.svg

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, box_size=10)
    code.add_data(text)
    code.make(fit=True)
    image = code.make_image(image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string(encoding="unicode")
