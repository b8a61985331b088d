"""Builds signed webhook headers the way each provider does (Python 3 standard
library only), so integration tests can send requests that rouse's webhook
verifier (runtime/webhook/verify.hpp) must accept, or tamper with them.

Every function takes the secret as str or bytes and the body as the exact bytes
that will be sent (str is UTF-8 encoded), and returns a dict of header name to
value. Timestamps default to now (int seconds since the epoch).

    from webhook_sign import github_headers
    headers = github_headers("s3cret", body, event="push", delivery="d-1")

`sign(scheme, secret, body, **kwargs)` dispatches by rouse's scheme name
("standard-webhooks" and "standard_webhooks" both work).
Running this file checks it against the providers' published test vectors.
"""

import base64
import hashlib
import hmac
import time
import uuid

_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def _bytes(value):
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _now(timestamp):
    return int(time.time()) if timestamp is None else int(timestamp)


def hmac_digest(secret, message, algorithm="sha256"):
    """Returns the raw HMAC of `message` under `secret` with `algorithm`
    ("sha1", "sha256" or "sha512")."""
    return hmac.new(_bytes(secret), _bytes(message), _DIGESTS[algorithm]).digest()


def github_signature(secret, body):
    """Returns the X-Hub-Signature-256 value: "sha256=<hex>"."""
    return "sha256=" + hmac_digest(secret, body).hex()


def github_headers(secret, body, event="push", delivery=None):
    """X-Hub-Signature-256, X-GitHub-Event, X-GitHub-Delivery."""
    return {
        "X-Hub-Signature-256": github_signature(secret, body),
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "Content-Type": "application/json",
    }


def forgejo_headers(secret, body, event="push", delivery=None):
    """X-Forgejo-Signature and (as Forgejo also sends) X-Gitea-Signature, with
    the matching event and delivery headers."""
    signature = hmac_digest(secret, body).hex()
    delivery = delivery or str(uuid.uuid4())
    return {
        "X-Forgejo-Signature": signature,
        "X-Gitea-Signature": signature,
        "X-Forgejo-Event": event,
        "X-Gitea-Event": event,
        "X-Forgejo-Delivery": delivery,
        "X-Gitea-Delivery": delivery,
        "Content-Type": "application/json",
    }


def gitea_headers(secret, body, event="push", delivery=None):
    """X-Gitea-Signature (hex HMAC-SHA256), X-Gitea-Event, X-Gitea-Delivery."""
    return {
        "X-Gitea-Signature": hmac_digest(secret, body).hex(),
        "X-Gitea-Event": event,
        "X-Gitea-Delivery": delivery or str(uuid.uuid4()),
        "Content-Type": "application/json",
    }


def gitlab_headers(secret, body=b"", event="Push Hook", delivery=None):
    """X-Gitlab-Token (the secret itself; `body` is not signed), X-Gitlab-Event
    and a delivery id in both Idempotency-Key and X-Gitlab-Event-UUID."""
    delivery = delivery or str(uuid.uuid4())
    return {
        "X-Gitlab-Token": _bytes(secret).decode("utf-8"),
        "X-Gitlab-Event": event,
        "Idempotency-Key": delivery,
        "X-Gitlab-Event-UUID": delivery,
        "Content-Type": "application/json",
    }


def stripe_signature(secret, body, timestamp=None, extra_secrets=()):
    """Returns the Stripe-Signature value "t=<ts>,v1=<hex>[,v1=<hex>...]": one
    v1 per secret (Stripe sends several while a secret is being rolled)."""
    ts = _now(timestamp)
    signed = str(ts).encode("ascii") + b"." + _bytes(body)
    parts = ["t=%d" % ts]
    for s in (secret,) + tuple(extra_secrets):
        parts.append("v1=" + hmac_digest(s, signed).hex())
    return ",".join(parts)


def stripe_headers(secret, body, timestamp=None, extra_secrets=()):
    """Stripe-Signature over "{t}.{body}"."""
    return {
        "Stripe-Signature": stripe_signature(secret, body, timestamp, extra_secrets),
        "Content-Type": "application/json",
    }


def slack_signature(secret, body, timestamp):
    """Returns the X-Slack-Signature value "v0=<hex>" over "v0:{ts}:{body}"."""
    base = b"v0:" + str(int(timestamp)).encode("ascii") + b":" + _bytes(body)
    return "v0=" + hmac_digest(secret, base).hex()


def slack_headers(secret, body, timestamp=None):
    """X-Slack-Signature and X-Slack-Request-Timestamp."""
    ts = _now(timestamp)
    return {
        "X-Slack-Signature": slack_signature(secret, body, ts),
        "X-Slack-Request-Timestamp": str(ts),
        "Content-Type": "application/json",
    }


def standard_webhooks_key(secret):
    """Returns the HMAC key of a Standard Webhooks secret: the base64 text after
    an optional "whsec_" prefix, decoded."""
    text = _bytes(secret).decode("ascii")
    if text.startswith("whsec_"):
        text = text[len("whsec_"):]
    return base64.b64decode(text, validate=True)


def standard_webhooks_signature(secret, body, msg_id, timestamp):
    """Returns one "v1,<base64>" entry over "{id}.{timestamp}.{body}"."""
    signed = ("%s.%d." % (msg_id, int(timestamp))).encode("utf-8") + _bytes(body)
    digest = hmac.new(standard_webhooks_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def standard_webhooks_headers(secret, body, msg_id=None, timestamp=None,
                              extra_secrets=()):
    """webhook-id, webhook-timestamp and webhook-signature (one space-separated
    v1 entry per secret)."""
    ts = _now(timestamp)
    msg_id = msg_id or "msg_" + uuid.uuid4().hex
    signatures = [standard_webhooks_signature(s, body, msg_id, ts)
                  for s in (secret,) + tuple(extra_secrets)]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": " ".join(signatures),
        "Content-Type": "application/json",
    }


def hmac_headers(secret, body, header="X-Signature", algorithm="sha256",
                 encoding="hex", prefix=""):
    """One `header` holding `prefix` + the HMAC of the body in `encoding`
    ("hex" or "base64"), as rouse's generic hmac scheme expects."""
    digest = hmac_digest(secret, body, algorithm)
    if encoding == "hex":
        text = digest.hex()
    elif encoding == "base64":
        text = base64.b64encode(digest).decode("ascii")
    else:
        raise ValueError("encoding must be hex or base64, not %r" % (encoding,))
    return {header: prefix + text}


def token_headers(secret, body=b"", header=None):
    """`Authorization: Bearer <secret>`, or `header: <secret>` when a header is
    named (`body` is not signed)."""
    token = _bytes(secret).decode("utf-8")
    if header is None or header.lower() == "authorization":
        return {"Authorization": "Bearer " + token}
    return {header: token}


_SCHEMES = {
    "github": github_headers,
    "forgejo": forgejo_headers,
    "gitea": gitea_headers,
    "gitlab": gitlab_headers,
    "stripe": stripe_headers,
    "slack": slack_headers,
    "standard_webhooks": standard_webhooks_headers,
    "standard-webhooks": standard_webhooks_headers,
    "hmac": hmac_headers,
    "token": token_headers,
}


def sign(scheme, secret, body, **kwargs):
    """Returns the headers of `scheme` (rouse's scheme name) for `body`; keyword
    arguments go to the scheme's function. Scheme "none" needs no headers."""
    if scheme == "none":
        return {}
    try:
        build = _SCHEMES[scheme]
    except KeyError:
        raise ValueError("unknown webhook scheme %r" % (scheme,)) from None
    return build(secret, body, **kwargs)


def _self_test():
    gh = github_headers("It's a Secret to Everybody", "Hello, World!")
    assert gh["X-Hub-Signature-256"] == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    ), gh
    sw = standard_webhooks_headers(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", '{"test": 2432232314}',
        msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp=1614265330)
    assert sw["webhook-signature"] == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), sw
    st = stripe_headers("whsec_test", b"{}", timestamp=1, extra_secrets=("b",))
    assert st["Stripe-Signature"].startswith("t=1,v1="), st
    assert st["Stripe-Signature"].count("v1=") == 2, st
    for scheme in _SCHEMES:
        secret = "whsec_" + base64.b64encode(b"k").decode() if "standard" in scheme \
            else "k"
        assert sign(scheme, secret, b"{}"), scheme
    assert sign("none", "", b"") == {}
    print("webhook_sign: self-test passed")


if __name__ == "__main__":
    _self_test()
