"""QR codes as SVG: a pure function from text to markup, for calendar links (and tickets later)."""

from __future__ import annotations

PIXELS_PER_MODULE = 8  # 41 modules with the quiet zone -> 328 px: comfortable on a phone


def qr_svg(text: str) -> str:
    """An SVG QR code: error correction M, the standard 4-module quiet zone, a white background,
    and a size in pixels (the library's default is millimetres, tiny on a screen)."""
    import qrcode
    from qrcode.image.svg import SvgPathFillImage

    class PixelSizedSvg(SvgPathFillImage):
        def _svg(self, viewBox=None, **kwargs):
            element = super()._svg(viewBox=viewBox, **kwargs)
            element.set("width", str(self.pixel_size))
            element.set("height", str(self.pixel_size))
            return element

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, box_size=PIXELS_PER_MODULE)
    code.add_data(text)
    code.make(fit=True)
    return code.make_image(image_factory=PixelSizedSvg).to_string(encoding="unicode")


def qr_png(text: str, pixels_per_module: int = 10) -> bytes:
    """A PNG QR code (error correction M, 4-module quiet zone), about 400 px: a phone screen's width."""
    import io

    import qrcode

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, box_size=pixels_per_module)
    code.add_data(text)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image().save(out, format="PNG")
    return out.getvalue()
