"""Routing reasons (codes with parameters, from ``routing``) as sentences in the current locale."""

from flask_babel import get_locale, gettext, ngettext

from .directory import place_names
from .vocabulary import Specialism


def specialism_label(code: str) -> str:
    try:
        return gettext(Specialism(code).label)
    except ValueError:
        return code


def language_names(codes) -> str:
    """Language names in the current locale, e.g. "ukraiński, rosyjski"."""
    names = get_locale().languages
    return ", ".join(names.get(code, code) for code in codes)


def place_name(scope: str, area: str | None) -> str:
    """A city (slug) or voivodeship (TERYT) named in the current locale."""
    return place_names(str(get_locale())).get((scope, area or ""), area or "")


def sentence(code: str, params: dict) -> str:
    """One reason as a translated sentence."""
    p = dict(params)
    if "specialism" in p:
        p["specialism"] = specialism_label(p["specialism"])
    if code == "covers":
        if p.get("scope") == "city":
            return gettext(
                "%(specialism)s — city: %(place)s",
                specialism=p["specialism"],
                place=place_name("city", p.get("area")),
            )
        if p.get("scope") == "voivodeship":
            return gettext(
                "%(specialism)s — voivodeship: %(place)s",
                specialism=p["specialism"],
                place=place_name("voivodeship", p.get("area")),
            )
        return gettext("%(specialism)s — all of Poland, remotely", specialism=p["specialism"])
    if code == "speaks":
        if not p.get("languages"):  # erased with the person
            return gettext("Speaks the person's language")
        return gettext(
            "Speaks the person's language: %(languages)s",
            languages=language_names(str(p["languages"]).split(",")),
        )
    if code == "no_shared_language":
        return gettext("Does not speak the person's languages")
    if code == "load":
        return ngettext(
            "%(taken)d of %(num)d place taken",
            "%(taken)d of %(num)d places taken",
            int(p["capacity"]),
            taken=int(p["open_load"]),
        )
    if code == "full":
        return ngettext(
            "Full: %(taken)d of %(num)d place taken",
            "Full: %(taken)d of %(num)d places taken",
            int(p["capacity"]),
            taken=int(p["open_load"]),
        )
    if code == "no_capacity_limit":
        return ngettext(
            "%(num)d open referral, no limit set",
            "%(num)d open referrals, no limit set",
            int(p["open_load"]),
        )
    if code == "not_taking_referrals":
        return gettext("Does not take referrals")
    if code == "paused":
        return gettext("Paused")
    if code == "tried_before":
        return gettext("Was offered this referral before")
    if code == "does_not_cover":
        return gettext("Does not cover %(specialism)s here", specialism=p["specialism"])
    return code


def reasons(candidate) -> list[str]:
    """A routing.Candidate's reasons as sentences."""
    return [sentence(r.code, dict(r.params)) for r in candidate.reasons]


def stored_reasons(referral) -> list[str]:
    """The reasons kept on a referral at its last offer, as sentences."""
    return [sentence(r["code"], r.get("params", {})) for r in referral.routing_reasons or []]
