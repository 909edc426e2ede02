"""Images uploaded into an item through the editor's endpoint: checked by content and size,
stored by the service, audited, served publicly for the pages and the channels."""

from __future__ import annotations

import struct
import zlib

from tests.publisher.web.pages.conftest import Site, create, csrf_of


def png() -> bytes:
    raw = b"\x00\xff\x00\x00"  # one red pixel

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_upload_checks_stores_audits_and_serves_the_image(site: Site) -> None:
    editor = site.login("editor")
    uid = create(editor, title="关于预算图表的通知")
    token = csrf_of(editor.get(f"/app/items/{uid}/edit").text)
    url = f"/app/items/{uid}/images"
    r = editor.post(url, data={"csrf": token}, files={"file": ("chart.png", png(), "image/png")})
    assert r.status_code == 201, r.text
    link = r.json()["url"]
    assert link.endswith(".png") and f"/media/{uid}/" in link
    served = editor.get(link)  # absolute: the channels fetch it from the public address
    assert (
        served.status_code == 200
        and served.headers["content-type"] == "image/png"
        and served.content == png()
    )
    # a text file named .png, an empty upload and an unknown item are refused in Chinese
    r = editor.post(
        url, data={"csrf": token}, files={"file": ("evil.png", b"<script>alert(1)</script>", "image/png")}
    )
    assert r.status_code == 422 and "只能上传" in r.json()["error"]
    r = editor.post(
        url,
        data={"csrf": token},
        files={"file": ("big.png", png() + b"\x00" * (5 * 1024 * 1024), "image/png")},
    )
    assert r.status_code == 422 and "不能超过" in r.json()["error"]
    assert (
        editor.post(
            "/app/items/0000000000000000000000000z/images",
            data={"csrf": token},
            files={"file": ("a.png", png(), "image/png")},
        ).status_code
        == 404
    )
    # only editors upload; a forged post without the form's token is refused
    reviewer = site.login("reviewer")
    rtoken = csrf_of(reviewer.get(f"/app/items/{uid}").text)
    assert (
        reviewer.post(url, data={"csrf": rtoken}, files={"file": ("a.png", png(), "image/png")}).status_code
        == 403
    )
    assert (
        editor.post(url, data={"csrf": "x"}, files={"file": ("a.png", png(), "image/png")}).status_code == 403
    )
    uploads = [e for e in site.service.audit_events(item_uid=uid) if e["action"] == "image.upload"]
    assert len(uploads) == 1 and uploads[0]["actor"] == "editor"
    assert editor.get(f"/media/{uid}/{'0' * 32}.png").status_code == 404
    assert editor.get(f"/media/{uid}/..%2Fpublisher.db").status_code == 404
