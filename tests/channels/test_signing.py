"""Standard Webhooks signing: the published test vector, rotation, tolerance, bad input."""

from __future__ import annotations

import base64

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
    with pytest.raises(SignatureError):
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
