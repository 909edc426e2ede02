"""Standard Webhooks signing: the published test vector, rotation, tolerance, bad input."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from channels import signing
from channels.signing import SignatureError, TimestampError

# The example in the Standard Webhooks specification (spec/standard-webhooks.md).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_sign_matches_the_specification_example() -> None:
    assert signing.sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIG


def test_verify_accepts_the_specification_example() -> None:
    signing.verify([SPEC_SECRET], SPEC_ID, str(SPEC_TS), SPEC_BODY, SPEC_SIG, now=SPEC_TS + 10)


def test_signed_headers_carry_one_signature_per_live_secret() -> None:
    new = signing.generate_secret()
    headers = signing.signed_headers([SPEC_SECRET, new], SPEC_ID, SPEC_TS, SPEC_BODY)
    assert headers["webhook-id"] == SPEC_ID
    assert headers["webhook-timestamp"] == str(SPEC_TS)
    sigs = headers["webhook-signature"].split(" ")
    assert sigs[0] == SPEC_SIG and len(sigs) == 2
    # during rotation a receiver holding only the new secret accepts the message, and so
    # does one holding only the old secret
    for held in ([new], [SPEC_SECRET], [signing.generate_secret(), new]):
        signing.verify_headers(held, headers, SPEC_BODY, now=SPEC_TS)


def test_verify_rejects_a_tampered_body_or_id_or_wrong_secret() -> None:
    with pytest.raises(SignatureError):
        signing.verify([SPEC_SECRET], SPEC_ID, str(SPEC_TS), SPEC_BODY + b" ", SPEC_SIG, now=SPEC_TS)
    with pytest.raises(SignatureError):
        signing.verify([SPEC_SECRET], SPEC_ID + "x", str(SPEC_TS), SPEC_BODY, SPEC_SIG, now=SPEC_TS)
    with pytest.raises(SignatureError, match="签名不匹配"):
        signing.verify([signing.generate_secret()], SPEC_ID, str(SPEC_TS), SPEC_BODY, SPEC_SIG, now=SPEC_TS)


@pytest.mark.parametrize(
    "header",
    ["", "v1", "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "v1,not*base64", "g0hM9SsE+OTPJTGt"],
)
def test_verify_rejects_malformed_signature_headers(header: str) -> None:
    with pytest.raises(SignatureError):
        signing.verify([SPEC_SECRET], SPEC_ID, str(SPEC_TS), SPEC_BODY, header, now=SPEC_TS)


def test_unknown_versions_are_ignored_beside_a_valid_v1() -> None:
    header = "v1a,c29tZXRoaW5nZWxzZQ== " + SPEC_SIG
    signing.verify([SPEC_SECRET], SPEC_ID, str(SPEC_TS), SPEC_BODY, header, now=SPEC_TS)


@pytest.mark.parametrize("offset", [-301, 301, 600, -600])
def test_verify_refuses_timestamps_outside_five_minutes(offset: int) -> None:
    with pytest.raises(TimestampError):
        signing.verify([SPEC_SECRET], SPEC_ID, str(SPEC_TS), SPEC_BODY, SPEC_SIG, now=SPEC_TS + offset)


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_verify_accepts_timestamps_within_five_minutes(offset: int) -> None:
    signing.verify([SPEC_SECRET], SPEC_ID, str(SPEC_TS), SPEC_BODY, SPEC_SIG, now=SPEC_TS + offset)


@pytest.mark.parametrize("timestamp", ["", "1614265330.5", "-1", "abc"])
def test_verify_rejects_non_integer_timestamps(timestamp: str) -> None:
    with pytest.raises(
        SignatureError, match="须为整数秒 / webhook-timestamp must be integer seconds|missing"
    ):
        signing.verify([SPEC_SECRET], SPEC_ID, timestamp, SPEC_BODY, SPEC_SIG, now=SPEC_TS)


def test_parse_secret_requires_prefix_base64_and_length() -> None:
    assert len(signing.parse_secret(SPEC_SECRET)) == 24
    with pytest.raises(ValueError, match="whsec_"):
        signing.parse_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    with pytest.raises(ValueError, match="base64"):
        signing.parse_secret("whsec_not base64!")
    short = "whsec_" + base64.b64encode(b"x" * 23).decode()
    with pytest.raises(ValueError, match="24"):
        signing.parse_secret(short)
    assert len(signing.parse_secret(signing.generate_secret())) == 32


def test_parse_secrets_reads_several_separated_by_whitespace() -> None:
    other = signing.generate_secret()
    assert len(signing.parse_secrets(f"{SPEC_SECRET}\n{other}\n")) == 2
    with pytest.raises(ValueError):
        signing.parse_secrets("  \n")


def test_sign_refuses_ids_that_cannot_travel_in_a_header() -> None:
    with pytest.raises(ValueError):
        signing.sign(SPEC_SECRET, "has space", SPEC_TS, SPEC_BODY)
    with pytest.raises(ValueError):
        signing.sign(SPEC_SECRET, "", SPEC_TS, SPEC_BODY)
    with pytest.raises(ValueError):
        signing.signed_headers([], SPEC_ID, SPEC_TS, SPEC_BODY)


# -- the edges (written against mutmut's survivors: docs/testing.md) ---------------------------


def _secret(nbytes: int) -> str:
    return "whsec_" + base64.b64encode(bytes(range(1, nbytes + 1))).decode()


@pytest.mark.parametrize(("nbytes", "ok"), [(23, False), (24, True), (64, True), (65, False)])
def test_secret_length_bounds_are_inclusive(nbytes: int, ok: bool) -> None:
    if ok:
        assert signing.parse_secret(_secret(nbytes)) == bytes(range(1, nbytes + 1))
    else:
        with pytest.raises(ValueError, match="24-64"):
            signing.parse_secret(_secret(nbytes))


def test_a_secret_is_read_without_surrounding_whitespace_and_as_strict_base64() -> None:
    assert signing.parse_secret(f"  {SPEC_SECRET}\n") == signing.parse_secret(SPEC_SECRET)
    with pytest.raises(ValueError, match="base64"):
        signing.parse_secret(SPEC_SECRET[:-1] + "!")
    # strict: a stray character is refused, not skipped (the rest would decode to a valid key)
    with pytest.raises(ValueError, match="base64"):
        signing.parse_secret(SPEC_SECRET[:12] + "!" + SPEC_SECRET[12:])


def test_several_secrets_split_on_any_whitespace_keep_their_order() -> None:
    a, b, c = _secret(24), _secret(32), _secret(40)
    assert signing.parse_secrets(f"{a}\t{b}  {c}") == [signing.parse_secret(x) for x in (a, b, c)]
    with pytest.raises(ValueError, match="no secret"):
        signing.parse_secrets("")


@pytest.mark.parametrize("nbytes", [24, 32, 64])
def test_generated_secrets_have_the_asked_size_and_differ(nbytes: int) -> None:
    one, two = signing.generate_secret(nbytes), signing.generate_secret(nbytes)
    assert one.startswith("whsec_") and len(signing.parse_secret(one)) == nbytes and one != two
    assert len(signing.parse_secret(signing.generate_secret())) == 32


@pytest.mark.parametrize(
    ("msg_id", "ok"),
    [
        ("!", True),
        ("~", True),
        ("a" * 200, True),
        ("a" * 201, False),
        ("a b", False),
        ("a\x7f", False),
        ("é", False),
    ],
)
def test_webhook_ids_are_1_to_200_printable_ascii(msg_id: str, ok: bool) -> None:
    if ok:
        sig = signing.sign(SPEC_SECRET, msg_id, SPEC_TS, SPEC_BODY)
        signing.verify([SPEC_SECRET], msg_id, str(SPEC_TS), SPEC_BODY, sig, now=SPEC_TS)
    else:
        with pytest.raises(ValueError, match="printable ASCII"):
            signing.sign(SPEC_SECRET, msg_id, SPEC_TS, SPEC_BODY)
        with pytest.raises(SignatureError, match="webhook-id"):
            signing.verify([SPEC_SECRET], msg_id, str(SPEC_TS), SPEC_BODY, SPEC_SIG, now=SPEC_TS)


def test_signed_headers_are_exactly_the_three() -> None:
    h = signing.signed_headers([SPEC_SECRET], SPEC_ID, SPEC_TS, SPEC_BODY)
    assert h == {"webhook-id": SPEC_ID, "webhook-timestamp": str(SPEC_TS), "webhook-signature": SPEC_SIG}
    with pytest.raises(ValueError, match="no secret"):
        signing.signed_headers([], SPEC_ID, SPEC_TS, SPEC_BODY)


@pytest.mark.parametrize("missing", ["id", "timestamp", "signature"])
def test_each_missing_header_is_a_signature_error(missing: str) -> None:
    args = {"id": SPEC_ID, "timestamp": str(SPEC_TS), "signature": SPEC_SIG}
    args[missing] = ""
    with pytest.raises(SignatureError, match="missing"):
        signing.verify(
            [SPEC_SECRET], args["id"], args["timestamp"], SPEC_BODY, args["signature"], now=SPEC_TS
        )


def test_the_tolerance_edge_is_inclusive_and_the_argument_is_honoured() -> None:
    verify = signing.verify
    for now in (SPEC_TS + 300, SPEC_TS - 300):
        verify([SPEC_SECRET], SPEC_ID, str(SPEC_TS), SPEC_BODY, SPEC_SIG, now=now)
    for now in (SPEC_TS + 301, SPEC_TS - 301):
        with pytest.raises(TimestampError, match="300"):
            verify([SPEC_SECRET], SPEC_ID, str(SPEC_TS), SPEC_BODY, SPEC_SIG, now=now)
    verify([SPEC_SECRET], SPEC_ID, str(SPEC_TS), SPEC_BODY, SPEC_SIG, now=SPEC_TS + 10, tolerance=10)
    with pytest.raises(TimestampError, match="10 s"):
        verify([SPEC_SECRET], SPEC_ID, str(SPEC_TS), SPEC_BODY, SPEC_SIG, now=SPEC_TS + 11, tolerance=10)


def test_unusable_entries_are_skipped_and_a_later_v1_still_matches() -> None:
    header = f"v1 v1,@@notbase64@@ v2,{SPEC_SIG[3:]} {SPEC_SIG}"
    signing.verify([SPEC_SECRET], SPEC_ID, str(SPEC_TS), SPEC_BODY, header, now=SPEC_TS)
    with pytest.raises(SignatureError, match="no v1 signature"):
        signing.verify([SPEC_SECRET], SPEC_ID, str(SPEC_TS), SPEC_BODY, "v1 v1,@@ v2,abc", now=SPEC_TS)
    with pytest.raises(SignatureError, match="no signature matches"):
        signing.verify([_secret(32)], SPEC_ID, str(SPEC_TS), SPEC_BODY, SPEC_SIG, now=SPEC_TS)


def test_any_secret_of_several_may_match_and_keys_may_be_bytes() -> None:
    verify = signing.verify
    verify([_secret(32), SPEC_SECRET], SPEC_ID, str(SPEC_TS), SPEC_BODY, SPEC_SIG, now=SPEC_TS)
    key = signing.parse_secret(SPEC_SECRET)
    verify([key], SPEC_ID, str(SPEC_TS), SPEC_BODY, SPEC_SIG, now=SPEC_TS)
    assert signing.sign(key, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIG


def test_verify_headers_reads_the_three_returns_the_id_and_passes_the_tolerance() -> None:
    headers = signing.signed_headers([SPEC_SECRET], SPEC_ID, SPEC_TS, SPEC_BODY)
    assert signing.verify_headers([SPEC_SECRET], headers, SPEC_BODY, now=SPEC_TS) == SPEC_ID
    with pytest.raises(TimestampError):
        signing.verify_headers([SPEC_SECRET], headers, SPEC_BODY, now=SPEC_TS + 20, tolerance=10)
    signing.verify_headers([SPEC_SECRET], headers, SPEC_BODY, now=SPEC_TS + 250)
    for name in headers:
        partial = {k: v for k, v in headers.items() if k != name}
        with pytest.raises(SignatureError, match="missing"):
            signing.verify_headers([SPEC_SECRET], partial, SPEC_BODY, now=SPEC_TS)
    with pytest.raises(SignatureError, match="no signature matches"):
        signing.verify_headers([SPEC_SECRET], headers, SPEC_BODY + b" ", now=SPEC_TS)


def test_each_refusal_says_exactly_what_is_wrong() -> None:
    """The messages are what a subscriber's or our operator's log shows: pinned whole."""
    cases: list[tuple[type[Exception], str, Callable[[], object]]] = [
        (
            ValueError,
            "密钥不是有效的 base64 / the secret is not valid base64",
            lambda: signing.parse_secret("whsec_!"),
        ),
        (ValueError, "未配置密钥 / no secret given", lambda: signing.parse_secrets(" ")),
        (
            ValueError,
            "未配置密钥 / no secret given",
            lambda: signing.signed_headers([], SPEC_ID, SPEC_TS, b""),
        ),
        (
            ValueError,
            "webhook-id must be 1-200 printable ASCII characters without spaces",
            lambda: signing.sign(SPEC_SECRET, "a b", SPEC_TS, b""),
        ),
        (
            SignatureError,
            "webhook-id 无效 / webhook-id must be 1-200 printable ASCII characters without spaces",
            lambda: signing.verify([SPEC_SECRET], "a b", str(SPEC_TS), b"", SPEC_SIG, now=SPEC_TS),
        ),
        (
            SignatureError,
            "缺少签名请求头 / missing webhook-id, webhook-timestamp or webhook-signature",
            lambda: signing.verify([SPEC_SECRET], SPEC_ID, str(SPEC_TS), b"", "", now=SPEC_TS),
        ),
        (
            SignatureError,
            "webhook-timestamp 须为整数秒 / webhook-timestamp must be integer seconds",
            lambda: signing.verify([SPEC_SECRET], SPEC_ID, "1.5", b"", SPEC_SIG, now=SPEC_TS),
        ),
        (
            SignatureError,
            "没有可识别的 v1 签名 / no v1 signature in webhook-signature",
            lambda: signing.verify([SPEC_SECRET], SPEC_ID, str(SPEC_TS), b"", "v2,abc", now=SPEC_TS),
        ),
        (
            SignatureError,
            "签名不匹配 / no signature matches",
            lambda: signing.verify([SPEC_SECRET], SPEC_ID, str(SPEC_TS), b"x", SPEC_SIG, now=SPEC_TS),
        ),
    ]
    for kind, message, call in cases:
        with pytest.raises(kind) as info:
            call()
        assert type(info.value) is kind and str(info.value) == message
