"""Identity resolution: which unified contact a source record or interaction is about,
and the explainable, reversible merges and candidates between contacts."""

from hub.identity.candidate_queue import score_queued
from hub.identity.candidates import decide_candidate, list_candidates, refresh_candidates
from hub.identity.explain import explain
from hub.identity.merge import list_merges, merge_contacts, unmerge
from hub.identity.resolve import Resolution, find_contacts, resolve_contact
from hub.identity.rules import DEFAULT_RULES, IdentityRules

__all__ = [
    "DEFAULT_RULES",
    "IdentityRules",
    "Resolution",
    "decide_candidate",
    "explain",
    "find_contacts",
    "list_candidates",
    "list_merges",
    "merge_contacts",
    "refresh_candidates",
    "resolve_contact",
    "score_queued",
    "unmerge",
]
