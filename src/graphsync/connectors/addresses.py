"""Whether a job's BaseAddress is a URL the engine can send SCIM requests to.

It is checked where it is saved, and again where it is used (validateCredentials, a cycle): an
address saved before this check existed may be malformed, and the HTTP clients fail on one with
errors of their own (UnicodeError, ValueError, httpx.InvalidURL …) that would surface as a 500
or an InternalError instead of saying what is wrong.
"""
from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import urlsplit

import idna

MAX_LENGTH = 2048
MAX_HOST_LENGTH = 253  # a DNS name, in its ASCII (xn--) form
_LABEL = re.compile(r"[a-z0-9_-]+")  # after lowercasing; "_" as in container and service names
EXAMPLE = "https://scim.example.com/scim/v2"


def base_address_problem(address: str) -> str | None:
    """What makes ``address`` unusable as a SCIM endpoint, as a sentence naming BaseAddress;
    None when nothing does."""
    if len(address) > MAX_LENGTH:
        return f"BaseAddress is longer than {MAX_LENGTH} characters."
    if any(char.isspace() or unicodedata.category(char) in ("Cc", "Cf") for char in address):
        return "BaseAddress contains whitespace, a control character or an invisible (format) character."
    try:
        parts = urlsplit(address)
    except ValueError as exc:  # brackets not closed or holding no IPv6 address, …
        hint = " (an IPv6 address is written in brackets: http://[2001:db8::1]/scim)" if "[" in address else ""
        return f"BaseAddress is not a valid URL: {exc}{hint}."
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"BaseAddress must be an absolute http:// or https:// URL, e.g. {EXAMPLE}."
    if "@" in parts.netloc:
        return "BaseAddress must not contain a user name or password: put the token in the SecretToken secret."
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return "The port in BaseAddress must be a number from 1 to 65535."
    if parts.netloc.startswith("["):
        literal, _, after = parts.netloc[1:].partition("]")
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            return "The host of BaseAddress is in brackets but is not an IPv6 address."
        if after and not after.startswith(":"):  # urlsplit ignores what is there; the HTTP clients do not
            return "Only a port (':' and digits) may follow the IPv6 address in brackets in BaseAddress."
        return None
    return _host_name_problem(parts.hostname or "")


def _host_name_problem(host: str) -> str | None:
    """An IPv4 address, or a DNS name: labels of 1–63 characters, IDNA-encodable, 253 in all."""
    try:
        ipaddress.IPv4Address(host)
        return None
    except ValueError:
        pass
    name = host.removesuffix(".")  # a fully qualified name may end with the root's dot
    try:
        ascii_name = name if name.isascii() else idna.encode(name, uts46=True).decode()
    except UnicodeError as exc:  # idna.IDNAError is one
        return f"The host of BaseAddress is not a valid internationalised domain name ({exc})."
    if any(not idna.uts46_remap(char, std3_rules=False) for char in name if not char.isascii()):
        return "The host of BaseAddress contains a character IDNA ignores (an invisible one); retype the host."
    if len(ascii_name) > MAX_HOST_LENGTH:
        return f"The host of BaseAddress is longer than {MAX_HOST_LENGTH} characters."
    labels = ascii_name.split(".")
    for label in labels:
        if not 1 <= len(label) <= 63:
            return "Each dot-separated label of the host of BaseAddress must have 1 to 63 characters."
        if not _LABEL.fullmatch(label):
            return f"The host label '{label}' in BaseAddress may only have letters, digits, '-' and '_'."
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except UnicodeError:
                return f"The host label '{label}' in BaseAddress is not a valid IDNA (xn--) label."
    if labels[-1].isdigit():
        return "The host of BaseAddress is neither a valid IPv4 address nor a domain name."
    return None
