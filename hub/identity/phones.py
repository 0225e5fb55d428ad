"""National phone variants: one subscriber, several E.164 spellings.

What is treated as the same number (folded to one canonical form):

* **Brazil (+55)**: since 2016 every mobile number has nine digits starting with 9;
  CRMs still hold the old eight-digit form. A ten-digit national number whose
  subscriber part starts with 6-9 (the mobile ranges; landlines start with 2-5) gets
  the 9: ``+55 11 8765-4321`` and ``+55 11 98765-4321`` are one person.
* **Argentina (+54)**: mobiles are dialled from abroad with a 9 after the country
  code (``+54 9 11 …``, what WhatsApp sends) and written without it in most CRMs
  (``+54 11 15 …`` locally). Mobile and fixed lines share one numbering plan, so the
  digits after the 9 name one line either way; the canonical form drops the 9.
* **Mexico (+52)**: the mobile "1" after the country code was abolished in 2019;
  ``+52 1 55 …`` and ``+52 55 …`` are one line; the canonical form drops the 1.

What is *not* treated as the same: numbers that differ in any other digit, a
national number without its country code read in another region (the mapping's
``phone`` transform decides the region: ``hub.default_region`` or ``{phone: BR}``),
extensions (dropped by the transform), and local numbers without an area code (never
identifiers at all: the same seven digits belong to someone else in every area).
"""

from __future__ import annotations


def canonical_phone(e164: str) -> str:
    """The canonical spelling of an E.164 number (unchanged when no variant applies)."""
    if not e164.startswith("+"):
        return e164
    if e164.startswith("+55"):
        national = e164[3:]
        if len(national) == 10 and national.isdigit() and national[2] in "6789":
            return f"+55{national[:2]}9{national[2:]}"
    elif e164.startswith("+549"):
        national = e164[4:]
        if len(national) == 10 and national.isdigit():
            return "+54" + national
    elif e164.startswith("+521"):
        national = e164[4:]
        if len(national) == 10 and national.isdigit():
            return "+52" + national
    return e164
